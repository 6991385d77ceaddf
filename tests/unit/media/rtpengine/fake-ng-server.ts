/**
 * A fake rtpengine for unit tests: a UDP socket on 127.0.0.1 that speaks the ng framing
 * (`<cookie> <bencoded dict>`) and answers with whatever the test's handler returns.
 * Every request it receives is recorded (retransmissions included).
 */
import type { udp } from 'bun'
import { asBencodeDict, decodeBencode, encodeBencode, type BencodeDict, type BencodeInput } from '../../../../gateway/src/media/rtpengine/bencode.ts'

export interface ReceivedRequest {
  cookie: string
  dict: BencodeDict
  /** The datagram as received. */
  raw: Uint8Array
}

/** Returns the reply dict, or null to stay silent (a lost datagram). */
export type NgHandler = (request: ReceivedRequest, server: FakeNgServer) => { readonly [key: string]: BencodeInput | undefined } | null

/** Default behaviour: pong to ping, `ok` with the request's own SDP to offer/answer, `ok` otherwise. */
export const echoHandler: NgHandler = (request) => {
  const command = request.dict.command
  if (command === 'ping') return { result: 'pong' }
  if (command === 'offer' || command === 'answer') return { result: 'ok', sdp: request.dict.sdp as string }
  return { result: 'ok' }
}

export class FakeNgServer {
  readonly received: ReceivedRequest[] = []
  handler: NgHandler
  private constructor(
    private socket: udp.Socket<'uint8array'>,
    handler: NgHandler,
  ) {
    this.handler = handler
  }

  static async start(handler: NgHandler = echoHandler, port = 0): Promise<FakeNgServer> {
    let server: FakeNgServer | null = null
    const socket = await Bun.udpSocket({
      hostname: '127.0.0.1',
      port,
      binaryType: 'uint8array',
      socket: {
        data(sock, data, fromPort, fromAddress) {
          server?.onDatagram(sock, data, fromPort, fromAddress)
        },
      },
    })
    server = new FakeNgServer(socket, handler)
    return server
  }

  get port(): number {
    return this.socket.port
  }

  /** Requests of one command (retransmissions included). */
  commands(command: string): ReceivedRequest[] {
    return this.received.filter((r) => r.dict.command === command)
  }

  /** Sends raw bytes to a client address (for malformed / unknown-cookie replies). */
  sendRaw(bytes: Uint8Array | string, port: number, address = '127.0.0.1'): void {
    this.socket.send(bytes, port, address)
  }

  /** The address the last request came from. */
  lastFrom: { port: number; address: string } | null = null

  close(): void {
    this.socket.close()
  }

  private onDatagram(sock: udp.Socket<'uint8array'>, data: Uint8Array, port: number, address: string): void {
    this.lastFrom = { port, address }
    const text = new TextDecoder().decode(data)
    const space = text.indexOf(' ')
    const cookie = text.slice(0, space)
    const decoded = decodeBencode(data.subarray(new TextEncoder().encode(cookie).length + 1))
    const dict = decoded.ok ? asBencodeDict(decoded.value) : null
    if (!dict) throw new Error(`fake ng server: unreadable request ${text.slice(0, 80)}`)
    const request = { cookie, dict, raw: data.slice() }
    this.received.push(request)
    const reply = this.handler(request, this)
    if (reply === null) return
    const body = encodeBencode(reply)
    const head = new TextEncoder().encode(`${cookie} `)
    const out = new Uint8Array(head.length + body.length)
    out.set(head)
    out.set(body, head.length)
    sock.send(out, port, address)
  }
}

/** Waits (real I/O, polling every 2 ms) until `check()` is true; throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 2_000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(2)
  }
}

/** A UDP port on 127.0.0.1 where nothing listens (bound, read, closed). */
export async function deadPort(): Promise<number> {
  const socket = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0 })
  const port = socket.port
  socket.close()
  return port
}
