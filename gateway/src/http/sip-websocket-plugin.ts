/**
 * SIP over WebSocket at `/sip` (RFC 7118).
 *
 * RFC 7118 §4.1: "The WebSocket client MUST include the value "sip" in the
 * Sec-WebSocket-Protocol header [...] If a SIP WebSocket Server receives a handshake request
 * that does not include "sip" [...] it MUST NOT accept it." An upgrade without it is refused
 * with 426 before any WebSocket exists; an accepted one answers `Sec-WebSocket-Protocol: sip`.
 *
 * This plugin only adapts Elysia's WebSocket to the neutral WsFlow and hands frames to the
 * transport layer (docs/architecture.md §2: only http/ imports elysia).
 */
import { Elysia } from 'elysia'
import { WsFlow } from '../sip/transport/ws-flow.ts'
import type { TransportLayer } from '../sip/transport/transport-layer.ts'

export interface SipWebSocketDeps {
  transport: TransportLayer
  /** 'WSS' when the HTTP server runs TLS. */
  secure: boolean
  localAddress: string
  localPort: () => number
}

function offersSip(header: string | null): boolean {
  if (header === null) return false
  for (const p of header.split(',')) if (p.trim().toLowerCase() === 'sip') return true
  return false
}

/** Elysia plugin exposing the SIP WebSocket endpoint. */
export function sipWebSocketPlugin(deps: SipWebSocketDeps) {
  const flows = new WeakMap<object, WsFlow>()
  const transportName = deps.secure ? 'WSS' : 'WS'
  return new Elysia({ name: 'sip-websocket' })
    .ws('/sip', {
      beforeHandle({ request, set }) {
      if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
        set.status = 426
        return 'SIP over WebSocket (RFC 7118): connect with a WebSocket and subprotocol "sip"\n'
      }
      if (!offersSip(request.headers.get('sec-websocket-protocol'))) {
        set.status = 426
        set.headers['sec-websocket-protocol'] = 'sip'
        return 'the WebSocket subprotocol "sip" is required (RFC 7118 §4.1)\n'
      }
      },
      upgrade: { 'Sec-WebSocket-Protocol': 'sip' },
      // Frames are SIP text, never JSON: skip Elysia's body parsing.
      parse: (_ws, message) => message,
      open(ws) {
        const raw = ws.raw
        const flow = new WsFlow(
          transportName, raw.remoteAddress, 0, deps.localAddress, deps.localPort(),
          (text) => raw.send(text) >= 0,
          () => raw.close(1000, 'closed by gateway'),
        )
        flows.set(raw, flow)
        deps.transport.wsOpened(flow)
      },
      message(ws, message) {
        const flow = flows.get(ws.raw)
        if (!flow) return
        if (typeof message === 'string') deps.transport.wsMessage(flow, message)
        else if (message instanceof Uint8Array) deps.transport.wsMessage(flow, message)
        else if (message instanceof ArrayBuffer) deps.transport.wsMessage(flow, new Uint8Array(message))
        else deps.transport.wsMessage(flow, String(message))
      },
      close(ws) {
        const flow = flows.get(ws.raw)
        if (!flow) return
        flows.delete(ws.raw)
        flow.markClosed()
        deps.transport.flowClosed(flow)
      },
    })
}
