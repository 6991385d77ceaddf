/**
 * A SIP server under benchmark (Kamailio or the Patchbay gateway), started by the benchmark
 * on a free UDP port of 127.0.0.1 and stopped at the end of its part of the run.
 */
export interface BenchPeer {
  /** Short name used in tables and JSON: `kamailio-4w`, `kamailio-1w`, `patchbay`. */
  name: string
  /** One line describing what runs (command, workers, options). */
  description: string
  /** The UDP port SIPp sends to (127.0.0.1); for a peer of several nodes, the first node's. */
  port: number
  /** The pid whose process tree is measured for CPU and memory; for several nodes, the first's. */
  pid: number
  /**
   * A peer of several nodes (e.g. two gateways sharing one Redis): every node's SIP UDP port on
   * 127.0.0.1, in node order (`ports[0] === port`). The load is split over them. Absent: one node.
   */
  ports?: number[]
  /**
   * Every process tree that does the peer's work, measured together for CPU and memory: each
   * node's pid and the services they share (redis-server). Absent: `pid` alone.
   */
  pids?: number[]
  /** The peer's last output lines (for error messages). */
  tail(lines?: number): string
  /** Stops the peer (SIGTERM, then SIGKILL) and removes its temporary files. */
  stop(): Promise<void>
}
