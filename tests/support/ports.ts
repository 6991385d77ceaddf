/**
 * Free port finder for tests that start real peers (SIPp, Chromium pages, the gateway) on
 * 127.0.0.1. Every peer gets its own free port so that test files can run side by side
 * (and next to benchmarks that hold 5060/5070).
 *
 * The port is found by binding port 0, reading the port the kernel chose and closing the
 * socket again; a peer started right after binds it. That leaves a small window in which
 * another process could take the port, which is acceptable on a test machine.
 */

import { readFileSync } from 'node:fs'

export const LOOPBACK = '127.0.0.1'

/** Ports handed out by this process, so that two calls never return the same port. */
const handedOut = new Set<number>()

/** Binds UDP `port` on 127.0.0.1 (0: any free port); returns the bound port or null. */
async function tryUdp(port: number): Promise<number | null> {
  try {
    const socket = await Bun.udpSocket({ hostname: LOOPBACK, port })
    const bound = socket.port
    socket.close()
    return bound
  } catch {
    return null
  }
}

/** Listens on TCP `port` on 127.0.0.1 (0: any free port); returns the bound port or null. */
function tryTcp(port: number): number | null {
  try {
    const listener = Bun.listen({
      hostname: LOOPBACK,
      port,
      socket: { data() {} },
    })
    const bound = listener.port
    listener.stop(true)
    return bound
  } catch {
    return null
  }
}

/** A free UDP port on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryUdp(0)
    if (port !== null && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freeUdpPort: no free UDP port found on 127.0.0.1')
}

/** A free TCP port on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = tryTcp(0)
    if (port !== null && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freeTcpPort: no free TCP port found on 127.0.0.1')
}

/**
 * A port P on 127.0.0.1 such that P .. P+count-1 are all free, for UDP and TCP both.
 * SIPp needs this: its SIP port is UDP and TCP, and its media port `-mp P` opens
 * P (audio RTP), P+1 (audio RTCP), P+2 and P+3 (video).
 *
 * @param count how many consecutive ports (1..64)
 */
export async function freePortRange(count = 1): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new RangeError(`freePortRange: count must be 1..64, got ${count}`)
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = await tryUdp(0)
    if (base === null || base + count - 1 > 65535) continue
    let ok = true
    for (let port = base; port < base + count && ok; port++) {
      if (handedOut.has(port)) ok = false
      else if (port !== base && (await tryUdp(port)) === null) ok = false
      else if (tryTcp(port) === null) ok = false
    }
    if (ok) {
      for (let port = base; port < base + count; port++) handedOut.add(port)
      return base
    }
  }
  throw new Error(`freePortRange: no ${count} consecutive free ports found on 127.0.0.1`)
}

/**
 * True when some socket is bound to UDP `port` (any address), read from /proc/net/udp and
 * /proc/net/udp6 without touching the port (binding it to test would race the peer).
 */
export function isUdpPortBound(port: number): boolean {
  return procNetHasPort(['/proc/net/udp', '/proc/net/udp6'], port, null)
}

/** True when some socket listens on TCP `port` (state 0A LISTEN in /proc/net/tcp, tcp6). */
export function isTcpPortListening(port: number): boolean {
  return procNetHasPort(['/proc/net/tcp', '/proc/net/tcp6'], port, '0A')
}

/**
 * Waits until a peer has bound `port` (see {@link isUdpPortBound}, {@link isTcpPortListening}).
 *
 * @throws Error after `timeoutMs`
 */
export async function waitForPortBound(port: number, protocol: 'udp' | 'tcp', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const check = protocol === 'udp' ? isUdpPortBound : isTcpPortListening
  while (!check(port)) {
    if (Date.now() > deadline) throw new Error(`nothing bound ${protocol} port ${port} within ${timeoutMs} ms`)
    await Bun.sleep(20)
  }
}

function procNetHasPort(files: string[], port: number, state: string | null): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const file of files) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      if (!local) continue
      if (local.slice(local.lastIndexOf(':') + 1) !== hexPort) continue
      if (state === null || fields[3] === state) return true
    }
  }
  return false
}
