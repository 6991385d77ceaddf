/**
 * A SIP server under benchmark (Kamailio or the Patchbay gateway), started by the benchmark
 * on a free UDP port of 127.0.0.1 and stopped at the end of its part of the run.
 */
export interface BenchPeer {
  /** Short name used in tables and JSON: `kamailio-4w`, `kamailio-1w`, `patchbay`. */
  name: string
  /** One line describing what runs (command, workers, options). */
  description: string
  /** The UDP port SIPp sends to (127.0.0.1). */
  port: number
  /** The pid whose process tree is measured for CPU and memory. */
  pid: number
  /** The peer's last output lines (for error messages). */
  tail(lines?: number): string
  /** Stops the peer (SIGTERM, then SIGKILL) and removes its temporary files. */
  stop(): Promise<void>
}
