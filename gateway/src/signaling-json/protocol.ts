/**
 * Patchbay's JSON signaling protocol, version 1: every message a client and the gateway
 * exchange over the `/json` WebSocket (subprotocol `patchbay-json.1`), as TypeBox schemas.
 * These schemas are the single source of truth: the gateway validates every frame against
 * them, and docs/json-signaling.md describes the same messages with examples.
 *
 * One WebSocket text frame carries one JSON object whose `type` names the message. Requests
 * a client wants answered carry an `id` (string, chosen by the client) that the answer or the
 * error repeats. Calls are named by a `callId` the caller chooses (its own call) or the
 * gateway chooses (an incoming call).
 */
import { Type, type Static, type TObject } from '@sinclair/typebox'

/** Protocol version, also in the WebSocket subprotocol name. */
export const JSON_PROTOCOL_VERSION = 1
/** The WebSocket subprotocol a client must offer (`Sec-WebSocket-Protocol`). */
export const JSON_SUBPROTOCOL = `patchbay-json.${JSON_PROTOCOL_VERSION}`
/** Largest frame accepted, bytes (an SDP offer with many candidates stays far below). */
export const MAX_FRAME_BYTES = 65_536
/**
 * Frames per second a connection may send on average (a token bucket of FRAME_BURST): a
 * softphone sends a few per call; beyond it frames are refused with `rate-limited`, and a
 * connection that keeps going is closed.
 */
export const MAX_FRAMES_PER_SECOND = 50
export const FRAME_BURST = 200
/** Calls one session may have in progress at once. */
export const MAX_CALLS_PER_SESSION = 20

const Id = Type.String({ minLength: 1, maxLength: 64 })
const CallId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._~-]+$' })
/** An SDP body (RFC 8866), as text. */
const Sdp = Type.String({ minLength: 1, maxLength: 32_768 })
/** A user to reach: `bob`, `bob@domain`, `sip:bob@domain` or a number. */
const Target = Type.String({ minLength: 1, maxLength: 256 })
const Reason = Type.String({ maxLength: 128 })

// ---- client -> gateway ----------------------------------------------------------------------

export const ClientMessages = {
  /**
   * Proves the password without sending it: `proof` = hex HMAC-SHA-256 keyed with the bytes
   * of the account's SHA-256 HA1 (hex of SHA-256(`username:realm:password`), RFC 7616 §3.4.2)
   * over the UTF-8 `nonce` of the gateway's `challenge`. A successful login registers the
   * user (like a SIP REGISTER) for as long as the session lives.
   */
  login: Type.Object({
    type: Type.Literal('login'),
    id: Id,
    username: Type.String({ minLength: 1, maxLength: 128 }),
    proof: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
    /**
     * The client applies trickled candidates (`candidate` messages, RFC 8838): the session
     * registers with the `trickle-ice` feature tag, so callers may send it partial offers.
     */
    trickle: Type.Optional(Type.Boolean()),
  }),
  /** Takes over a session after a page reload, within its grace period (Verto's attach). */
  attach: Type.Object({
    type: Type.Literal('attach'),
    id: Id,
    token: Type.String({ minLength: 16, maxLength: 128 }),
  }),
  /**
   * Places a call: the SDP offer. With `trickle: true` the offer may lack candidates: they
   * follow as `candidate` messages, then `candidate: ''` once the set is usable (RFC 8838).
   */
  call: Type.Object({
    type: Type.Literal('call'),
    callId: CallId,
    to: Target,
    sdp: Sdp,
    trickle: Type.Optional(Type.Boolean()),
    /** This call follows a `transfer` request of that call: its progress is reported to the transferor. */
    transferOf: Type.Optional(CallId),
  }),
  /**
   * Blind transfer of a connected call to `to` (REFER, RFC 3515): the other side is asked to
   * call `to`; when that call is answered this call ends (`ended`, cause `transferred`), and
   * when it fails an `error` (`transfer-failed`, `status`) says so and this call stays.
   */
  transfer: Type.Object({
    type: Type.Literal('transfer'),
    callId: CallId,
    to: Target,
  }),
  /** Answers an incoming call with the SDP answer (`trickle: true`: its candidates follow, as for `call`). */
  answer: Type.Object({
    type: Type.Literal('answer'),
    callId: CallId,
    sdp: Sdp,
    trickle: Type.Optional(Type.Boolean()),
  }),
  /** Refuses an incoming call: 486 busy (default), 603 declined, 480 unavailable. */
  reject: Type.Object({
    type: Type.Literal('reject'),
    callId: CallId,
    status: Type.Optional(Type.Union([Type.Literal(486), Type.Literal(480), Type.Literal(603)])),
    reason: Type.Optional(Reason),
  }),
  /** Ends a call in any state: cancels it while ringing, hangs up once answered. */
  hangup: Type.Object({
    type: Type.Literal('hangup'),
    callId: CallId,
    reason: Type.Optional(Reason),
  }),
  /**
   * A new offer inside a connected call (hold, resume, ICE restart after an `attach`,
   * RFC 3264 §8): the answer comes back as `answered`.
   */
  reoffer: Type.Object({
    type: Type.Literal('reoffer'),
    callId: CallId,
    sdp: Sdp,
  }),
  /**
   * A trickled ICE candidate (RFC 8838) of the sender's side of a call whose `call` / `answer`
   * said `trickle: true` (ignored otherwise); `candidate: ''` ends them (the set is usable;
   * later candidates may still follow).
   */
  candidate: Type.Object({
    type: Type.Literal('candidate'),
    callId: CallId,
    candidate: Type.String({ maxLength: 1024 }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 64 }), Type.Null()])),
  }),
  /** Sends a text message (RFC 3428 MESSAGE towards SIP users). */
  message: Type.Object({
    type: Type.Literal('message'),
    id: Id,
    to: Target,
    text: Type.String({ minLength: 1, maxLength: 4096 }),
  }),
  /** Keepalive: the gateway answers `pong` (and counts the session alive). */
  ping: Type.Object({
    type: Type.Literal('ping'),
    id: Type.Optional(Id),
  }),
  /** Ends the session: the registration goes and every call is hung up. */
  logout: Type.Object({
    type: Type.Literal('logout'),
  }),
} satisfies Record<string, TObject>

export type ClientMessageType = keyof typeof ClientMessages
export type ClientMessage = { [K in ClientMessageType]: Static<(typeof ClientMessages)[K]> }[ClientMessageType]
export type ClientMessageOf<K extends ClientMessageType> = Static<(typeof ClientMessages)[K]>

// ---- gateway -> client ----------------------------------------------------------------------

/** Why a call ended, for the user: the SIP status and its meaning. */
export const CallEndCause = Type.Union([
  Type.Literal('hangup'), Type.Literal('cancelled'), Type.Literal('busy'), Type.Literal('declined'),
  Type.Literal('unavailable'), Type.Literal('not-found'), Type.Literal('no-answer'),
  Type.Literal('incompatible-media'), Type.Literal('unreachable'), Type.Literal('failed'),
  Type.Literal('transferred'),
])
export type CallEndCause = Static<typeof CallEndCause>

export const ServerMessages = {
  /** First frame on every connection: the login challenge. */
  challenge: Type.Object({
    type: Type.Literal('challenge'),
    version: Type.Literal(JSON_PROTOCOL_VERSION),
    realm: Type.String(),
    nonce: Type.String(),
    algorithm: Type.Literal('HMAC-SHA-256'),
  }),
  /** Login or attach accepted: the user is registered; `token` re-attaches after a reload. */
  session: Type.Object({
    type: Type.Literal('session'),
    id: Id,
    username: Type.String(),
    displayName: Type.Optional(Type.String()),
    aor: Type.String(),
    token: Type.String(),
    /** Seconds a session outlives its WebSocket, waiting for `attach`. */
    graceSeconds: Type.Integer(),
    /** Calls in progress (after `attach`): the client re-offers each one. */
    calls: Type.Array(Type.Object({
      callId: CallId,
      direction: Type.Union([Type.Literal('outgoing'), Type.Literal('incoming')]),
      peer: Type.String(),
      state: Type.Union([Type.Literal('calling'), Type.Literal('ringing'), Type.Literal('connected')]),
      /** The caller's offer of an incoming call still ringing (to answer it after the reload). */
      sdp: Type.Optional(Sdp),
    })),
  }),
  /** An incoming call with the caller's SDP offer (`trickle: true`: its candidates may follow as `candidate` messages). */
  incoming: Type.Object({
    type: Type.Literal('incoming'),
    callId: CallId,
    from: Type.String(),
    displayName: Type.Optional(Type.String()),
    sdp: Sdp,
    trickle: Type.Optional(Type.Boolean()),
  }),
  /** The callee's phone rings (180) or sends early media (183 with `sdp`). */
  ringing: Type.Object({
    type: Type.Literal('ringing'),
    callId: CallId,
    sdp: Type.Optional(Sdp),
  }),
  /** The callee answered: its SDP answer. */
  answered: Type.Object({
    type: Type.Literal('answered'),
    callId: CallId,
    sdp: Sdp,
  }),
  /**
   * The other side transfers this user (a REFER): place a `call` to `to` with
   * `transferOf: callId`; the other side will hang this call up once it is answered.
   */
  transfer: Type.Object({
    type: Type.Literal('transfer'),
    callId: CallId,
    to: Type.String(),
    by: Type.Optional(Type.String()),
  }),
  /** The other side re-offers inside the call (hold, resume): answer with `answer`. */
  reoffer: Type.Object({
    type: Type.Literal('reoffer'),
    callId: CallId,
    sdp: Sdp,
  }),
  /** A call ended or failed: the SIP status that ended it and what it means. */
  ended: Type.Object({
    type: Type.Literal('ended'),
    callId: CallId,
    status: Type.Integer(),
    cause: CallEndCause,
    reason: Type.Optional(Reason),
    /** Who ended it: this client, the other side, or the gateway. */
    by: Type.Union([Type.Literal('local'), Type.Literal('remote'), Type.Literal('gateway')]),
  }),
  /**
   * The other side's trickled ICE candidate (RFC 8838; from a trickle-ice INFO, RFC 8840),
   * for clients that logged in with `trickle: true`; `candidate: ''`: a=end-of-candidates.
   */
  candidate: Type.Object({
    type: Type.Literal('candidate'),
    callId: CallId,
    candidate: Type.String(),
    sdpMid: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  }),
  /** A text message for this user. */
  message: Type.Object({
    type: Type.Literal('message'),
    from: Type.String(),
    displayName: Type.Optional(Type.String()),
    text: Type.String(),
  }),
  /** A `message` was delivered (the other side accepted it). */
  delivered: Type.Object({
    type: Type.Literal('delivered'),
    id: Id,
  }),
  pong: Type.Object({
    type: Type.Literal('pong'),
    id: Type.Optional(Id),
  }),
  /** A request failed or a frame was refused; `id`/`callId` name what it was about. */
  error: Type.Object({
    type: Type.Literal('error'),
    code: Type.String(),
    message: Type.String(),
    id: Type.Optional(Id),
    callId: Type.Optional(Type.String()),
    /** The JSON path of the offending field, e.g. `/sdp`. */
    field: Type.Optional(Type.String()),
    /** The SIP status behind the error, when there is one (404, 480, ...). */
    status: Type.Optional(Type.Integer()),
  }),
} satisfies Record<string, TObject>

export type ServerMessageType = keyof typeof ServerMessages
export type ServerMessage = { [K in ServerMessageType]: Static<(typeof ServerMessages)[K]> }[ServerMessageType]

/** Error codes of `error` messages (docs/json-signaling.md lists their meaning). */
export const ERROR_CODES = {
  /** The frame is not JSON, not an object, or binary. */
  badJson: 'bad-json',
  /** The frame exceeds MAX_FRAME_BYTES. */
  tooLarge: 'too-large',
  /** `type` is missing or names no message of this version. */
  unknownType: 'unknown-type',
  /** A field is missing, of the wrong type or out of range (`field` names it). */
  invalidField: 'invalid-field',
  /** Anything but login/attach/ping before a login. */
  notLoggedIn: 'not-logged-in',
  /** Wrong username or proof (the same answer for both), or an expired token. */
  authFailed: 'auth-failed',
  /** A second login on a session already logged in. */
  alreadyLoggedIn: 'already-logged-in',
  /** The `callId` names no call of this session. */
  unknownCall: 'unknown-call',
  /** The call is not in a state for this request (answer an outgoing call, ...). */
  wrongState: 'wrong-state',
  /** A `call` with a `callId` already in use. */
  callExists: 'call-exists',
  /** A call to oneself. */
  selfCall: 'self-call',
  /**
   * A `reoffer` was refused by the other side (`status`: 491 glare, 488, 5xx); the call goes
   * on with the previous session (RFC 3264 §8, RFC 3261 §14.1).
   */
  offerRefused: 'offer-refused',
  /** A `transfer` failed: the REFER was refused, or the call to the target failed (`status`). */
  transferFailed: 'transfer-failed',
  /** A `message` was refused by the other side or could not be routed (`status` says why). */
  notDelivered: 'not-delivered',
  /** The source is banned, or this connection sends frames faster than MAX_FRAMES_PER_SECOND. */
  rateLimited: 'rate-limited',
  /** A `call` beyond MAX_CALLS_PER_SESSION calls in progress. */
  tooManyCalls: 'too-many-calls',
} as const
