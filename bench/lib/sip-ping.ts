/**
 * Readiness check for a SIP server on UDP: an OPTIONS to the server itself (no user part),
 * the health check both Kamailio's bench config (`200 Keepalive`) and the gateway's `local`
 * pipeline stage answer (RFC 3261 §11).
 */
import { LOOPBACK } from './ports.ts'

/**
 * Sends OPTIONS to 127.0.0.1:`port` every 200 ms until a final response arrives.
 * @returns the status line of the answer
 * @throws Error when nothing answers within `timeoutMs`
 */
export async function waitForSipOptions(port: number, timeoutMs = 10_000): Promise<string> {
  let resolveAnswer!: (line: string) => void
  const answered = new Promise<string>((r) => {
    resolveAnswer = r
  })
  const socket = await Bun.udpSocket({
    hostname: LOOPBACK,
    port: 0,
    socket: {
      data(_s, data) {
        const line = data.toString('latin1').split('\r\n', 1)[0] ?? ''
        if (/^SIP\/2\.0 [2-6]\d\d/.test(line)) resolveAnswer(line)
      },
      // ICMP port-unreachable for a ping sent before the server bound its port surfaces
      // as ECONNREFUSED on this socket: expected while waiting, so ignored.
      error() {},
    },
  })
  const deadline = Date.now() + timeoutMs
  try {
    for (let i = 1; Date.now() < deadline; i++) {
      const branch = `z9hG4bK-bench-ping-${Date.now()}-${i}`
      const msg = [
        `OPTIONS sip:${LOOPBACK}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${LOOPBACK}:${socket.port};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:bench-ping@${LOOPBACK}>;tag=ping${i}`,
        `To: <sip:${LOOPBACK}:${port}>`,
        `Call-ID: bench-ping-${branch}`,
        `CSeq: ${i} OPTIONS`,
        'Content-Length: 0',
        '', '',
      ].join('\r\n')
      socket.send(msg, port, LOOPBACK)
      const line = await Promise.race([answered, Bun.sleep(200).then(() => null)])
      if (line !== null) return line
    }
  } finally {
    socket.close()
  }
  throw new Error(`no answer to OPTIONS on udp ${LOOPBACK}:${port} within ${timeoutMs} ms`)
}
