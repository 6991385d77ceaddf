/** Types for parse-prometheus-text-format 1.1 (the package ships none). */
declare module 'parse-prometheus-text-format' {
  interface ParsedMetric {
    value?: string
    labels?: Record<string, string>
    buckets?: Record<string, string>
    quantiles?: Record<string, string>
    count?: string
    sum?: string
  }
  interface ParsedFamily {
    name: string
    help: string
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
    metrics: ParsedMetric[]
  }
  /** Parses Prometheus text exposition into metric families. Throws on malformed text. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[]
}
