/**
 * The softphone's view of JSON signaling version 1 (docs/json-signaling.md). The message
 * types are the gateway's TypeBox schemas (`gateway/src/signaling-json/protocol.ts`, the
 * single source of truth), imported as types only: nothing of the gateway enters the bundle.
 *
 * `parseServerFrame` checks each frame from the gateway before the client acts on it: a
 * frame that is not JSON, names no known type or lacks a field the client reads is dropped
 * (undefined), never thrown. Extra fields are ignored (forward compatibility).
 */
import type { ClientMessage, ServerMessage } from '../../../../gateway/src/signaling-json/protocol.ts'

export type { ClientMessage, ServerMessage }
/** The server message of type `K`. */
export type ServerMessageOf<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>
/** One call of a `session` message (calls in progress after an `attach`). */
export type SessionCall = ServerMessageOf<'session'>['calls'][number]

/** The WebSocket subprotocol the gateway requires (protocol.ts `JSON_SUBPROTOCOL`). */
export const JSON_SUBPROTOCOL = 'patchbay-json.1'

type Fields = Record<string, unknown>

const isString = (v: unknown): v is string => typeof v === 'string'
const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== ''
const optional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v)
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

function validSessionCall(c: unknown): c is SessionCall {
  if (typeof c !== 'object' || c === null) return false
  const f = c as Fields
  return isNonEmpty(f.callId) && (f.direction === 'outgoing' || f.direction === 'incoming') && isString(f.peer)
    && (f.state === 'calling' || f.state === 'ringing' || f.state === 'connected') && optional(f.sdp, isNonEmpty)
}

/** Per type: does the frame carry every field the client reads, with the right type? */
const CHECKS: Record<ServerMessage['type'], (f: Fields) => boolean> = {
  challenge: (f) => f.version === 1 && isString(f.realm) && isNonEmpty(f.nonce) && f.algorithm === 'HMAC-SHA-256',
  session: (f) => isString(f.username) && isNonEmpty(f.aor) && isNonEmpty(f.token) && isInteger(f.graceSeconds)
    && Array.isArray(f.calls) && f.calls.every(validSessionCall) && optional(f.id, isString) && optional(f.displayName, isString),
  incoming: (f) => isNonEmpty(f.callId) && isString(f.from) && isNonEmpty(f.sdp) && optional(f.displayName, isString),
  ringing: (f) => isNonEmpty(f.callId) && optional(f.sdp, isNonEmpty),
  answered: (f) => isNonEmpty(f.callId) && isNonEmpty(f.sdp),
  reoffer: (f) => isNonEmpty(f.callId) && isNonEmpty(f.sdp),
  transfer: (f) => isNonEmpty(f.callId) && isNonEmpty(f.to) && optional(f.by, isString),
  ended: (f) => isNonEmpty(f.callId) && isInteger(f.status) && isString(f.cause)
    && (f.by === 'local' || f.by === 'remote' || f.by === 'gateway') && optional(f.reason, isString),
  candidate: (f) => isNonEmpty(f.callId) && isString(f.candidate)
    && optional(f.sdpMid, (v) => v === null || isString(v)) && optional(f.sdpMLineIndex, (v) => v === null || isInteger(v)),
  message: (f) => isString(f.from) && isString(f.text),
  delivered: (f) => isString(f.id),
  pong: (f) => optional(f.id, isString),
  error: (f) => isString(f.code) && isString(f.message) && optional(f.id, isString) && optional(f.callId, isString)
    && optional(f.status, isInteger),
}

/**
 * One WebSocket frame from the gateway as a server message, or undefined when it is not one
 * (binary, not JSON, not an object, unknown `type`, a field missing or of the wrong type).
 */
export function parseServerFrame(data: unknown): ServerMessage | undefined {
  if (typeof data !== 'string') return undefined
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const fields = value as Fields
  const type = fields.type
  if (typeof type !== 'string' || !Object.hasOwn(CHECKS, type)) return undefined
  return CHECKS[type as ServerMessage['type']](fields) ? value as ServerMessage : undefined
}
