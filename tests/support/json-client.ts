/**
 * A JSON signaling client for tests (docs/json-signaling.md): a real WebSocket to the
 * gateway's `/json`, the HMAC login computed from the password as a browser would, and
 * waiting for server messages by type.
 *
 *   const alice = await JsonClient.login(gw.httpUrl, 'alice', 'alice-demo')
 *   alice.send({ type: 'call', callId: 'c1', to: 'bob', sdp })
 *   await alice.next('answered', (m) => m.callId === 'c1')
 *
 * `login(..., { trickle: true })` declares a client that applies trickled candidates (RFC 8838).
 */
import { createHash, createHmac } from 'node:crypto'
import { JSON_SUBPROTOCOL } from '../../gateway/src/signaling-json/protocol.ts'

// The server's messages as the tests read them (protocol.ts has the exact schemas).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ServerFrame = { type: string; [field: string]: any }

interface Waiter {
  type: string
  predicate: (m: ServerFrame) => boolean
  resolve: (m: ServerFrame) => void
}

/** The login proof (docs/json-signaling.md): HMAC-SHA-256 keyed with the SHA-256 HA1 text, over the nonce. */
export function loginProof(username: string, realm: string, password: string, nonce: string): string {
  const ha1 = createHash('sha256').update(`${username}:${realm}:${password}`).digest('hex')
  return createHmac('sha256', ha1).update(nonce).digest('hex')
}

export class JsonClient {
  /** Every server message received, in order. */
  readonly received: ServerFrame[] = []
  private readonly unread: ServerFrame[] = []
  private readonly waiters: Waiter[] = []
  private closedResolve: (() => void) | null = null
  readonly closed: Promise<void>
  challenge: ServerFrame | null = null
  session: ServerFrame | null = null

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((r) => { this.closedResolve = r })
    ws.addEventListener('message', (ev) => {
      let m: ServerFrame
      try {
        m = JSON.parse(String(ev.data)) as ServerFrame
      } catch {
        m = { type: '(not json)', text: String(ev.data) }
      }
      this.received.push(m)
      const i = this.waiters.findIndex((w) => w.type === m.type && w.predicate(m))
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m)
      else this.unread.push(m)
    })
    ws.addEventListener('close', () => this.closedResolve?.())
  }

  /** Opens a WebSocket to `/json` of the gateway at `httpUrl` and waits for the challenge. */
  static async connect(httpUrl: string, protocols: string[] = [JSON_SUBPROTOCOL]): Promise<JsonClient> {
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws') + '/json', protocols)
    const client = new JsonClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true })
      ws.addEventListener('error', () => reject(new Error(`WebSocket to ${httpUrl}/json failed`)), { once: true })
    })
    client.challenge = await client.next('challenge')
    return client
  }

  /** Connects and logs in; throws when the gateway refuses. */
  static async login(httpUrl: string, username: string, password: string, options: { trickle?: boolean } = {}): Promise<JsonClient> {
    const c = await JsonClient.connect(httpUrl)
    const answer = await c.tryLogin(username, password, 'login', options)
    if (answer.type !== 'session') throw new Error(`login of ${username} refused: ${JSON.stringify(answer)}`)
    return c
  }

  /** Sends `login` and returns the answer (`session` or `error`). */
  async tryLogin(username: string, password: string, id = 'login', options: { trickle?: boolean } = {}): Promise<ServerFrame> {
    const ch = this.challenge!
    const trickle = options.trickle ? { trickle: true } : {}
    this.send({ type: 'login', id, username, proof: loginProof(username, ch.realm, password, ch.nonce), ...trickle })
    const answer = await this.nextOf(['session', 'error'], (m) => m.id === id)
    if (answer.type === 'session') this.session = answer
    return answer
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message))
  }

  sendRaw(data: string | Uint8Array): void {
    this.ws.send(data)
  }

  /** The next unread message of `type` (matching `predicate`), waiting up to `timeoutMs`. */
  next(type: string, predicate: (m: ServerFrame) => boolean = () => true, timeoutMs = 5_000): Promise<ServerFrame> {
    return this.nextOf([type], predicate, timeoutMs)
  }

  nextOf(types: string[], predicate: (m: ServerFrame) => boolean = () => true, timeoutMs = 5_000): Promise<ServerFrame> {
    const i = this.unread.findIndex((m) => types.includes(m.type) && predicate(m))
    if (i >= 0) return Promise.resolve(this.unread.splice(i, 1)[0]!)
    return new Promise((resolve, reject) => {
      const waiters: Waiter[] = []
      const timer = setTimeout(() => {
        for (const w of waiters) {
          const k = this.waiters.indexOf(w)
          if (k >= 0) this.waiters.splice(k, 1)
        }
        reject(new Error(`no ${types.join('/')} within ${timeoutMs} ms; received: ${JSON.stringify(this.received.slice(-8))}`))
      }, timeoutMs)
      for (const type of types) {
        const w: Waiter = {
          type, predicate,
          resolve: (m) => {
            clearTimeout(timer)
            for (const other of waiters) {
              const k = this.waiters.indexOf(other)
              if (k >= 0) this.waiters.splice(k, 1)
            }
            resolve(m)
          },
        }
        waiters.push(w)
        this.waiters.push(w)
      }
    })
  }

  /** Unread messages of `type` so far (not consumed). */
  pending(type: string): ServerFrame[] {
    return this.unread.filter((m) => m.type === type)
  }

  close(): void {
    this.ws.close()
  }
}
