/**
 * One SIP-over-WebSocket connection (RFC 7118) as a Flow. The HTTP layer owns the actual
 * WebSocket (Elysia/Bun) and hands this class a neutral `sendText` function, so the SIP
 * stack never imports the web framework (docs/architecture.md §2).
 *
 * RFC 7118 §5.1: "Each SIP message MUST be carried within a single WebSocket message, and a
 * WebSocket message MUST NOT contain more than one SIP message." SIP is text here: messages
 * go out as text frames (browsers' SIP libraries expect them).
 */
import type { Flow } from './flow.ts'

let nextWsId = 1
const decoder = new TextDecoder()

export class WsFlow implements Flow {
  readonly id: string
  readonly reliable = true
  readonly localAddress: string
  readonly localPort: number
  open = true
  /** {@inheritDoc Flow.authenticatedUser} */
  authenticatedUser: string | undefined = undefined

  constructor(
    readonly transport: 'WS' | 'WSS',
    readonly remoteAddress: string,
    readonly remotePort: number,
    localAddress: string,
    localPort: number,
    private readonly sendText: (text: string) => boolean,
    private readonly closeSocket: () => void,
  ) {
    this.id = `${transport.toLowerCase()}-${nextWsId++}`
    this.localAddress = localAddress
    this.localPort = localPort
  }

  get secure(): boolean {
    return this.transport === 'WSS'
  }

  send(data: Uint8Array): boolean {
    if (!this.open) return false
    return this.sendText(decoder.decode(data))
  }

  close(): void {
    if (!this.open) return
    this.open = false
    this.closeSocket()
  }

  markClosed(): void {
    this.open = false
  }
}
