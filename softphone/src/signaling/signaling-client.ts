/**
 * The seam between the softphone's UI (components and ReactiveControllers) and a signaling
 * protocol. The SIP implementation is `SipSignalingClient` (SIP over WebSocket, RFC 7118,
 * through SIP.js); a JSON-over-WebSocket client can implement the same interface. Nothing
 * above this file knows which protocol is in use, and nothing above it imports sip.js.
 *
 * Errors: methods that act on the network return result objects or resolve; failures of a
 * call are reported on the call itself (`CallSnapshot.end`), never thrown at the UI.
 */

/** Why registration is not (or no longer) in place. */
export type RegistrationFailure =
  /** The registrar rejected our credentials (401/407 after we answered the challenge, or 403). */
  | 'wrong-password'
  /** The registrar does not know the user (404). */
  | 'unknown-user'
  /** The WebSocket could not be opened or dropped (transport error, RFC 7118 flow gone). */
  | 'unreachable'
  /** No final response in time (408) or the registrar is overloaded / down (5xx). */
  | 'server-error'
  /** Any other final response (its status code is in `statusCode`). */
  | 'rejected'
  /** The page could not be configured (bad server address, client-config unreadable). */
  | 'configuration'

/** Registration state as the UI shows it. */
export type RegistrationState =
  | { readonly status: 'signed-out' }
  /** Opening the WebSocket and/or sending REGISTER; `attempt` counts tries since the last success. */
  | { readonly status: 'connecting'; readonly attempt: number }
  | {
    readonly status: 'registered'
    readonly aor: string
    readonly since: number
    /** The account's display name as the server knows it (JSON `session.displayName`), when it says. */
    readonly displayName?: string
  }
  /** A transient failure; another attempt is scheduled `retryAt` (epoch ms). */
  | {
    readonly status: 'reconnecting'
    readonly reason: RegistrationFailure
    readonly message: string
    readonly attempt: number
    readonly retryAt: number
    readonly statusCode?: number
  }
  /** A permanent failure (wrong password, unknown user): no retry until the user signs in again. */
  | {
    readonly status: 'failed'
    readonly reason: RegistrationFailure
    readonly message: string
    readonly statusCode?: number
  }

/** What the user typed on the sign-in form. */
export interface Credentials {
  /** Origin of the gateway, e.g. `https://pbx.example.com` (defaults to the page's origin). */
  readonly server: string
  readonly user: string
  readonly password: string
  /** Shown to the people we call (From display name). Optional. */
  readonly displayName?: string
}

/** Preferences that affect media and ICE; may change at any time. */
export interface SignalingPreferences {
  /** `deviceId` of the microphone, or undefined for the system default. */
  readonly inputDeviceId?: string
  /** Use only TURN relay candidates (RTCConfiguration.iceTransportPolicy = 'relay'). */
  readonly forceRelay: boolean
  /** From display name. */
  readonly displayName?: string
}

export type CallDirection = 'incoming' | 'outgoing'

/**
 * `dialing`: INVITE sent, nothing back but 100 Trying.
 * `ringing`: 180 Ringing received (outgoing) — RFC 3261 §21.1.2.
 * `early-media`: 183 Session Progress with an SDP answer; far-end audio is flowing before answer.
 * `incoming`: an INVITE is waiting for the user to answer or decline.
 * `connected`: 2xx exchanged, the dialog is confirmed.
 * `ended`: the session terminated; see `end`.
 */
export type CallState = 'dialing' | 'ringing' | 'early-media' | 'incoming' | 'connected' | 'ended'

/** How a call ended, in words the UI can show as they are. */
export type CallEndReason =
  | 'local-hangup'
  | 'remote-hangup'
  | 'busy'
  | 'declined'
  | 'no-answer'
  | 'not-found'
  | 'unavailable'
  | 'cancelled'
  | 'missed'
  | 'answered-elsewhere'
  | 'transferred'
  | 'media-denied'
  | 'incompatible'
  | 'forbidden'
  | 'network'
  | 'failed'

export interface CallEnd {
  readonly reason: CallEndReason
  /** The SIP final response that ended the call, if one did. */
  readonly statusCode?: number
  /** A sentence for the user, e.g. "Bob is busy." */
  readonly message: string
}

export interface RemoteParty {
  /** User part of the remote URI (`bob`, `+15551234567`). */
  readonly user: string
  /** The remote AOR or target URI as text. */
  readonly uri: string
  /** From/To display name, or empty when the peer sent none. */
  readonly displayName: string
}

export type TransferState = 'trying' | 'accepted' | 'succeeded' | 'failed'

/** An immutable view of one call; a new object is emitted on every change. */
export interface CallSnapshot {
  readonly id: string
  readonly direction: CallDirection
  readonly remote: RemoteParty
  readonly state: CallState
  /** We sent the microphone track disabled. */
  readonly muted: boolean
  /** We put the call on hold (re-INVITE with a=sendonly / a=inactive). */
  readonly onHold: boolean
  /** The far end put us on hold (its offer was sendonly/inactive). */
  readonly remoteHold: boolean
  /** Epoch ms. */
  readonly createdAt: number
  readonly ringingAt?: number
  readonly connectedAt?: number
  readonly endedAt?: number
  readonly end?: CallEnd
  /** Blind transfer we started from this call (REFER, RFC 3515). */
  readonly transfer?: { readonly target: string; readonly state: TransferState; readonly message?: string }
  /** Set when this call was started because the far end of another call transferred us. */
  readonly referredBy?: string
  /** DTMF digits sent so far on this call (RFC 4733 through RTCDTMFSender). */
  readonly dtmfSent: string
}

/** Result of `call()`; failures before any INVITE is sent (no call is created then). */
export type CallStartResult =
  | { readonly ok: true; readonly callId: string }
  | {
    readonly ok: false
    readonly reason: 'not-registered' | 'invalid-target' | 'media-denied' | 'no-microphone' | 'relay-unavailable' | 'failed'
    readonly message: string
  }

/** Result of an action on an existing call; `message` is for the user. */
export type ActionResult = { readonly ok: true } | { readonly ok: false; readonly message: string }

/** Why a text message was not delivered. */
export type MessageFailure =
  /** The user exists but has no registered device (480 Temporarily Unavailable). */
  | 'offline'
  /** No such user (404, 604, 484, 410). */
  | 'not-found'
  /** Not signed in (nothing was sent). */
  | 'not-registered'
  /** What the user typed is not an address, or the text is empty or too long (nothing was sent). */
  | 'invalid-target'
  /** Any other failure: timeout, refused, transport error (`statusCode` when the network gave one). */
  | 'failed'

/** Result of `sendMessage()`: a 2xx from the other side, or why not. */
export type MessageSendResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: MessageFailure; readonly statusCode?: number; readonly message: string }

/** A text message for this user (SIP MESSAGE, RFC 3428, or a JSON `message`). */
export interface IncomingTextMessage {
  /** The sender's AOR, e.g. `sip:bob@patchbay.local`. */
  readonly from: string
  /** User part of `from`. */
  readonly user: string
  /** The sender's display name, or empty. */
  readonly displayName: string
  readonly text: string
  /** Epoch ms of arrival. */
  readonly at: number
}

export interface SignalingEvents {
  /** A text message arrived (already answered 200 / acknowledged). */
  message: IncomingTextMessage
  registration: RegistrationState
  /** Any change of any call, including its creation and its end. */
  call: CallSnapshot
  /** Far-end audio became available (or changed) for a call. */
  'remote-media': { readonly callId: string; readonly stream: MediaStream }
}

export type SignalingEventName = keyof SignalingEvents
export type Unsubscribe = () => void

/**
 * A softphone's signaling: registration and calls. Implementations emit `registration`
 * and `call` events; the UI never polls.
 */
export interface SignalingClient {
  readonly registration: RegistrationState
  /** Every call not yet ended, oldest first. */
  readonly calls: readonly CallSnapshot[]

  on<K extends SignalingEventName>(type: K, listener: (event: SignalingEvents[K]) => void): Unsubscribe

  /** Connects and registers; keeps registered (refresh, reconnect) until `unregister()`. */
  register(credentials: Credentials): Promise<void>
  /** Unregisters (Expires: 0), ends calls and closes the connection. */
  unregister(): Promise<void>
  updatePreferences(preferences: Partial<SignalingPreferences>): Promise<void>
  /** While waiting to reconnect: try again now instead of at the scheduled time. */
  reconnectNow(): void

  /** Starts an outgoing call to a user name, number, or SIP URI. */
  call(target: string): Promise<CallStartResult>
  /** Answers an incoming call; other connected calls are put on hold first. */
  answer(callId: string): Promise<ActionResult>
  /** Declines an incoming call (603 Decline, RFC 3261 §21.6.2). */
  decline(callId: string): Promise<void>
  /** CANCEL before answer, BYE after. */
  hangup(callId: string): Promise<void>
  hold(callId: string): Promise<ActionResult>
  unhold(callId: string): Promise<ActionResult>
  setMuted(callId: string, muted: boolean): void
  /** Sends DTMF as RFC 4733 telephone-events on the call's audio sender; false if it cannot. */
  sendDtmf(callId: string, tones: string): boolean
  /** Blind transfer (REFER with Refer-To, RFC 3515). */
  transfer(callId: string, target: string): Promise<ActionResult>

  /**
   * Sends a text message (SIP MESSAGE with text/plain, RFC 3428, or a JSON `message`) to a
   * user name, number or SIP URI; resolves once the other side accepted (2xx) or refused it.
   */
  sendMessage(target: string, text: string): Promise<MessageSendResult>

  /** The call's peer connection, for getStats() and DTMF; undefined before media setup. */
  getPeerConnection(callId: string): RTCPeerConnection | undefined
  getLocalStream(callId: string): MediaStream | undefined
  getRemoteStream(callId: string): MediaStream | undefined

  dispose(): Promise<void>
}
