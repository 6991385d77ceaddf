/**
 * Reads one client frame of the JSON signaling protocol: size, JSON, `type`, then the
 * message's schema (protocol.ts). A refused frame yields the `error` message to send back,
 * naming the field at fault; nothing else happens to the session or its calls.
 */
import { Value } from '@sinclair/typebox/value'
import { ClientMessages, ERROR_CODES, MAX_FRAME_BYTES, type ClientMessage, type ClientMessageType } from './protocol.ts'

/** Why a frame was refused, as the `error` message's fields. */
export interface FrameError {
  code: string
  message: string
  field?: string
  id?: string
  callId?: string
}

export type DecodeResult = { ok: true; message: ClientMessage } | { ok: false; error: FrameError }

const encoder = new TextEncoder()

/**
 * Decodes and validates one frame.
 * @param frame a text frame as received; binary frames are refused (`bad-json`)
 */
export function decodeClientFrame(frame: string | Uint8Array): DecodeResult {
  if (typeof frame !== 'string') return refuse(ERROR_CODES.badJson, 'binary frames are not part of the protocol: send JSON text')
  // Characters are at most 3 UTF-8 bytes here (surrogate pairs are 2 chars for 4 bytes).
  if (frame.length > MAX_FRAME_BYTES || (frame.length * 3 > MAX_FRAME_BYTES && encoder.encode(frame).length > MAX_FRAME_BYTES)) {
    return refuse(ERROR_CODES.tooLarge, `frame larger than ${MAX_FRAME_BYTES} bytes`)
  }
  let value: unknown
  try {
    value = JSON.parse(frame)
  } catch (e) {
    return refuse(ERROR_CODES.badJson, `not JSON: ${(e as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse(ERROR_CODES.badJson, 'a message is a JSON object')
  }
  const obj = value as Record<string, unknown>
  const echo = echoFields(obj)
  const type = obj['type']
  if (typeof type !== 'string') return refuse(ERROR_CODES.unknownType, 'the message has no "type"', '/type', echo)
  if (!Object.hasOwn(ClientMessages, type)) {
    return refuse(ERROR_CODES.unknownType, `unknown message type "${type.slice(0, 40)}"`, '/type', echo)
  }
  const schema = ClientMessages[type as ClientMessageType]
  if (!Value.Check(schema, obj)) {
    const first = Value.Errors(schema, obj).First()
    const field = first?.path || '/'
    const what = first ? describe(first.path, first.message, obj) : 'invalid message'
    return refuse(ERROR_CODES.invalidField, `${type}: ${what}`, field, echo)
  }
  // Extra properties are allowed by the schemas (forward compatibility) but not passed on.
  return { ok: true, message: Value.Clean(schema, structuredClone(obj)) as ClientMessage }
}

function describe(path: string, message: string, obj: Record<string, unknown>): string {
  const name = path.replace(/^\//, '') || 'message'
  const present = path !== '' && pointerValue(obj, path) !== undefined
  return present ? `${name}: ${message}` : `${name} is required`
}

function pointerValue(obj: Record<string, unknown>, path: string): unknown {
  let v: unknown = obj
  for (const part of path.split('/').slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<string, unknown>)[part]
  }
  return v
}

/** The `id` and `callId` of a refused message, when readable, so the client can match the error. */
function echoFields(obj: Record<string, unknown>): Pick<FrameError, 'id' | 'callId'> {
  const out: Pick<FrameError, 'id' | 'callId'> = {}
  if (typeof obj['id'] === 'string' && obj['id'].length <= 64) out.id = obj['id']
  if (typeof obj['callId'] === 'string' && obj['callId'].length <= 64) out.callId = obj['callId']
  return out
}

function refuse(code: string, message: string, field?: string, echo: Pick<FrameError, 'id' | 'callId'> = {}): DecodeResult {
  const error: FrameError = { code, message, ...echo }
  if (field !== undefined) error.field = field
  return { ok: false, error }
}
