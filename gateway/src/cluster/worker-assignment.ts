/**
 * What the master (cluster/worker-pool.ts) hands a worker process (gateway/src/worker.ts) and
 * what the worker answers, and the configuration a worker runs (docs/architecture.md §4b).
 */
import type { GatewayConfig } from '../config/schema.ts'

/** What the master hands a worker (PATCHBAY_WORKER). Ports are concrete (never 0). */
export interface WorkerAssignment {
  index: number
  count: number
  /** The configuration folder, or null for the embedded defaults. */
  configDir: string | null
  ports: { udp: number; tcp: number; tls: number | null; http: number; stun: number | null }
  /** This worker's private UDP port. */
  privateUdpPort: number
  /** The shared UDP port and every worker's private port. */
  peerPorts: number[]
  /** Every worker's private HTTP port on 127.0.0.1 (admin fan-out). */
  httpPorts: number[]
}

/** Worker -> master once listening. */
export interface ReadyMessage {
  t: 'ready'
  index: number
  privateUdpPort: number
}

/**
 * The configuration a worker runs: the loaded one with the master's concrete ports and the
 * worker's share of media.rtpPortMin..rtpPortMax (count equal slices; a relay port is
 * allocated by one process only).
 */
export function workerConfig(config: GatewayConfig, a: WorkerAssignment): GatewayConfig {
  const span = config.media.rtpPortMax - config.media.rtpPortMin + 1
  const slice = Math.floor(span / a.count)
  const rtpPortMin = config.media.rtpPortMin + a.index * slice
  return {
    ...config,
    sip: { ...config.sip, udpPort: a.ports.udp, tcpPort: a.ports.tcp, ...(a.ports.tls !== null ? { tlsPort: a.ports.tls } : {}) },
    http: { ...config.http, port: a.ports.http },
    ice: { ...config.ice, stun: { ...config.ice.stun, ...(a.ports.stun !== null ? { port: a.ports.stun } : {}) } },
    media: { ...config.media, rtpPortMin, rtpPortMax: rtpPortMin + slice - 1 },
  }
}
