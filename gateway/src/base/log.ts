/**
 * Structured logging with dotted categories (`sip.transport.ws`, `sip.transaction`,
 * `media.rtpengine`) and fields (`callId`, `branch`, `aor`, `flowId`), one JSON object per
 * line on stderr. Full SIP traces belong at debug only. Never pass digest responses,
 * passwords, TURN credentials or secrets as fields.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

let threshold = RANK.info
let currentLevel: LogLevel = 'info'
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n')
/** Fields written on every line of this process (a worker's `worker: 1`), or null. */
let processFields: Record<string, unknown> | null = null

/** Sets the process-wide minimum level. Returns the previous one. */
export function setLogLevel(level: LogLevel): LogLevel {
  const prev = currentLevel
  currentLevel = level
  threshold = RANK[level]
  return prev
}

/** Redirects output (tests capture lines here). Returns the previous sink. */
export function setLogSink(fn: (line: string) => void): (line: string) => void {
  const prev = sink
  sink = fn
  return prev
}

/** Fields added to every line this process writes (gateway workers: `{ worker: 1 }`). */
export function setLogFields(fields: Record<string, unknown> | null): void {
  processFields = fields
}

export interface Logger {
  readonly category: string
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  /** True when debug lines would be written (guard expensive trace formatting with it). */
  readonly debugEnabled: boolean
}

function write(level: LogLevel, category: string, msg: string, fields?: Record<string, unknown>): void {
  if (RANK[level] < threshold) return
  const rec: Record<string, unknown> = { t: new Date().toISOString(), level, cat: category, msg }
  if (processFields !== null) for (const k in processFields) rec[k] = processFields[k]
  if (fields) for (const k in fields) rec[k] = fields[k]
  sink(JSON.stringify(rec))
}

/** A logger for one dotted category. */
export function logger(category: string): Logger {
  return {
    category,
    debug: (m, f) => write('debug', category, m, f),
    info: (m, f) => write('info', category, m, f),
    warn: (m, f) => write('warn', category, m, f),
    error: (m, f) => write('error', category, m, f),
    get debugEnabled() {
      return threshold <= RANK.debug
    },
  }
}
