/**
 * JSON signaling over WebSocket at `/json` (docs/json-signaling.md), the comparison mode to
 * SIP over WebSocket. The client must offer the subprotocol `patchbay-json.1`; an upgrade
 * without it is refused with 426, as `/sip` refuses one without "sip" (RFC 7118 §4.1).
 *
 * This plugin only adapts Elysia's WebSocket to the signaling service's JsonConnection
 * (docs/architecture.md: only http/ imports elysia).
 */
import { Elysia } from 'elysia'
import type { JsonConnection, JsonSignalingService } from '../signaling-json/json-signaling-service.ts'
import { JSON_SUBPROTOCOL } from '../signaling-json/protocol.ts'

export interface JsonWebSocketDeps {
  service: JsonSignalingService
  /** True when the HTTP server runs TLS (the session's SIP flow is then WSS). */
  secure: boolean
}

function offers(header: string | null, protocol: string): boolean {
  if (header === null) return false
  for (const p of header.split(',')) if (p.trim() === protocol) return true
  return false
}

/** Elysia plugin exposing the JSON signaling endpoint. */
export function jsonWebSocketPlugin(deps: JsonWebSocketDeps) {
  const connections = new WeakMap<object, JsonConnection>()
  return new Elysia({ name: 'json-websocket' })
    .ws('/json', {
      beforeHandle({ request, set }) {
        if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
          set.status = 426
          return `JSON signaling: connect with a WebSocket and subprotocol "${JSON_SUBPROTOCOL}"\n`
        }
        if (!offers(request.headers.get('sec-websocket-protocol'), JSON_SUBPROTOCOL)) {
          set.status = 426
          set.headers['sec-websocket-protocol'] = JSON_SUBPROTOCOL
          return `the WebSocket subprotocol "${JSON_SUBPROTOCOL}" is required\n`
        }
      },
      upgrade: { 'Sec-WebSocket-Protocol': JSON_SUBPROTOCOL },
      // The connection validates frames itself (size, JSON, schema) to answer with the field.
      parse: (_ws, message) => message,
      open(ws) {
        const raw = ws.raw
        const conn = deps.service.connect(
          raw.remoteAddress, deps.secure,
          (text) => { raw.send(text) },
          () => raw.close(1000, 'closed by gateway'),
        )
        connections.set(raw, conn)
      },
      message(ws, message) {
        const conn = connections.get(ws.raw)
        if (!conn) return
        if (typeof message === 'string' || message instanceof Uint8Array) conn.receive(message)
        else if (message instanceof ArrayBuffer) conn.receive(new Uint8Array(message))
        // Anything else is Elysia having parsed the frame after all: hand back its JSON text.
        else conn.receive(JSON.stringify(message))
      },
      close(ws) {
        const conn = connections.get(ws.raw)
        if (!conn) return
        connections.delete(ws.raw)
        conn.closedByPeer()
      },
    })
}
