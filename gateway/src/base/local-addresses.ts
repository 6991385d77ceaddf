/**
 * "Is this host (and port) mine?" — the one answer the transport (§18.1.2 sent-by check),
 * the pipeline (§16.3 loop check, §16.4 Route popping, requests to the gateway itself), the
 * registrar (AOR normalization, §10.3) and the proxy (our own Record-Route entries) share.
 * Kamailio calls the same list `alias` / `myself`.
 *
 * Hosts are compared lower-case, as the parser keeps them (IPv6 with brackets). Ports are
 * learned as the listeners bind (`setPort`), so a port of 0 in the configuration still
 * yields the real one.
 */
export class LocalAddresses {
  /** Lower-case SIP domain of the gateway (the host part of its AORs). */
  readonly domain: string
  private readonly hosts: Set<string>
  private readonly ports = new Map<string, number>()

  /**
   * @param domain the SIP domain (e.g. 'patchbay.test'); also counts as a local host
   * @param hosts every other name or address that means this gateway: listen addresses,
   *   aliases, the public address, 'localhost'
   */
  constructor(domain: string, hosts: Iterable<string>) {
    this.domain = domain.toLowerCase()
    this.hosts = new Set([this.domain])
    for (const h of hosts) this.hosts.add(h.toLowerCase())
  }

  /** Records the port a listener bound for `transport` ('UDP', 'TCP', 'TLS', 'WS', 'WSS'). */
  setPort(transport: string, port: number): void {
    this.ports.set(transport, port)
  }

  /** The bound port of `transport`, or 0 when nothing listens on it. */
  portOf(transport: string): number {
    return this.ports.get(transport) ?? 0
  }

  /** True when `host` names this gateway, whatever the port. */
  isLocalHost(host: string): boolean {
    return this.hosts.has(host)
  }

  /** True when host[:port] names this gateway (port null: any of our ports). */
  isLocal(host: string, port: number | null): boolean {
    if (!this.hosts.has(host)) return false
    if (port === null) return true
    for (const p of this.ports.values()) if (p === port) return true
    return false
  }

  /**
   * True for a URI host:port addressed to this gateway: our domain (any port), or one of our
   * addresses with no port or one of our ports. `sip:u1@127.0.0.1:5072` is a phone on this
   * host, not one of our AORs.
   */
  isOurUri(host: string, port: number | null): boolean {
    return host === this.domain || this.isLocal(host, port)
  }
}
