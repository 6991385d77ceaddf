/**
 * The real peers for an RFC 3263 §4.3 failover test: dnsmasq holding
 * `_sip._udp.<domain>` SRV records for two SIPp UAS processes on 127.0.0.1 — the primary
 * (priority 10) answers every INVITE 503, or is absent (nothing listens on its port), and
 * the backup (priority 20) answers with tests/fixtures/sipp/uas.xml (180, 200 with SDP,
 * Record-Route required, then ACK and BYE).
 *
 *   const peers = await startSrvFailoverPeers({ primary: '503' })
 *   afterAll(() => peers.stop())
 *   // a gateway with dns.servers = [peers.dns.server] proxies an INVITE to peers.uri;
 *   // the call must be answered by the backup after the primary's 503:
 *   expect((await peers.primary!.finish()).stats?.successful).toBe(1)
 *   expect((await peers.backup.finish()).stats?.successful).toBe(1)
 */
import { startDnsmasq, type Dnsmasq } from './dnsmasq.ts'
import { LOOPBACK, freePortRange } from './ports.ts'
import { SIPP_SCENARIOS, uasRejectScenario, startSipp, type SippPeer } from './sipp.ts'

export interface SrvFailoverOptions {
  /** Default `failover.test`. */
  domain?: string
  /** The user part of {@link SrvFailoverPeers.uri}. Default `service`. */
  user?: string
  /** What the priority-10 target does: answer 503 (default) or not exist (a silent port). */
  primary?: '503' | 'absent'
  /** Calls each SIPp takes before it exits (-m). Default 1. */
  calls?: number
  /** TTL of the records, seconds. Default 60. */
  ttl?: number
}

export interface SrvFailoverPeers {
  dns: Dnsmasq
  domain: string
  /** The Request-URI to call, e.g. `sip:service@failover.test` (no port: SRV applies). */
  uri: string
  /** The SIPp behind the priority-10 record; null when `primary: 'absent'`. */
  primary: SippPeer | null
  /** The port of the priority-10 record (where nothing listens when absent). */
  primaryPort: number
  /** The SIPp behind the priority-20 record. */
  backup: SippPeer
  /** Stops both SIPp processes and dnsmasq. */
  stop(): Promise<void>
}

/**
 * Starts the peers (SIPp first, then dnsmasq pointing at their ports).
 *
 * @throws Error when sipp or dnsmasq is missing (with the install command) or fails to start
 */
export async function startSrvFailoverPeers(options: SrvFailoverOptions = {}): Promise<SrvFailoverPeers> {
  const domain = options.domain ?? 'failover.test'
  const calls = options.calls ?? 1
  const started: Array<{ stop(): Promise<void> }> = []
  const stopAll = async () => {
    await Promise.allSettled(started.splice(0).map((peer) => peer.stop()))
  }
  try {
    let primary: SippPeer | null = null
    let primaryPort: number
    if ((options.primary ?? '503') === '503') {
      primary = await startSipp({ name: 'srv-primary-503', scenarioFile: uasRejectScenario(503, 'Service Unavailable'), calls })
      started.push({ stop: () => primary!.process.kill() })
      primaryPort = primary.localPort
    } else {
      primaryPort = await freePortRange(1)
    }
    const backup = await startSipp({ name: 'srv-backup-uas', scenarioFile: SIPP_SCENARIOS.uas, calls })
    started.push({ stop: () => backup.process.kill() })
    const dns = await startDnsmasq({
      domain,
      localTtl: options.ttl ?? 60,
      srv: [
        { name: `_sip._udp.${domain}`, target: `primary.${domain}`, port: primaryPort, priority: 10, weight: 10 },
        { name: `_sip._udp.${domain}`, target: `backup.${domain}`, port: backup.localPort, priority: 20, weight: 10 },
      ],
      hosts: [
        { name: `primary.${domain}`, addresses: [LOOPBACK] },
        { name: `backup.${domain}`, addresses: [LOOPBACK] },
      ],
    })
    started.push(dns)
    return { dns, domain, uri: `sip:${options.user ?? 'service'}@${domain}`, primary, primaryPort, backup, stop: stopAll }
  } catch (error) {
    await stopAll()
    throw error
  }
}
