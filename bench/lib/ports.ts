/**
 * Free UDP ports on 127.0.0.1 for the benchmark's peers (Kamailio, the gateway, SIPp).
 *
 * Ports are found by binding and releasing, so another process may take one in between; the
 * peers that bind them fail loudly in that case (SIPp exits 254, Kamailio refuses to start).
 */

/** The loopback address every benchmark peer listens on. */
export const LOOPBACK = '127.0.0.1'

/**
 * `count` distinct UDP ports that were free a moment ago (the kernel's picks for port 0,
 * all bound at the same time so that they differ).
 */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: count }, () => Bun.udpSocket({ hostname: LOOPBACK, port: 0 })))
  const ports = sockets.map((s) => s.port)
  for (const s of sockets) s.close()
  return ports
}

/** One free UDP port (see {@link freeUdpPorts}). */
export async function freeUdpPort(): Promise<number> {
  return (await freeUdpPorts(1))[0]!
}

/**
 * The first port of `length` consecutive free UDP ports, starting at an even number (SIPp's
 * `-mp` media port range: RTP, RTCP and the video pair after them).
 * @throws Error after 200 unlucky tries
 */
export async function freeUdpPortRange(length: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 15000)
    const bound: Bun.udp.Socket<'buffer'>[] = []
    try {
      for (let i = 0; i < length; i++) bound.push(await Bun.udpSocket({ hostname: LOOPBACK, port: base + i }))
      return base
    } catch {
      // taken: try another base
    } finally {
      for (const s of bound) s.close()
    }
  }
  throw new Error(`no ${length} consecutive free UDP ports found on ${LOOPBACK}`)
}
