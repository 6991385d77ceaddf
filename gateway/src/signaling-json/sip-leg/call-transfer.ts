/**
 * Blind transfer (RFC 3515) on one call leg of a JSON user, both roles:
 * - transferor (§2.4.1): `start` sends REFER with Refer-To; the NOTIFYs' message/sipfrag
 *   (§2.4.5) say how the other side's call to the target went: 2xx ends our call, a failure
 *   is reported and the call stays;
 * - transferee (§2.4.2): `onRefer` answers 202, sends the first NOTIFY (100 Trying) and asks
 *   the client to call the target; `notify` reports that call's progress.
 */
import type { SipRequest } from '../../sip/message/sip-message.ts'
import type { HeaderField } from '../../sip/syntax/types.ts'
import { bodyOf, type ChallengedResponse, type SipEndpoint } from './sip-endpoint.ts'
import { uriText } from './header-values.ts'

const decoder = new TextDecoder()
const SIPFRAG = 'message/sipfrag;version=2.0'

/** What the transfer needs of its call leg. */
export interface TransferDialog {
  /** Whether the call is connected (a REFER outside that is refused). */
  readonly connected: boolean
  /** A new request inside the dialog, with the next local CSeq (§12.2.1.1). */
  nextRequest(method: string): SipRequest
  /** A request went again with credentials under this CSeq. */
  noteCseq(seq: number): void
  /** The transfer succeeded: hang the call up (BYE) and end it as transferred. */
  endTransferred(): void
  /** The other side asks this user to call `target` (the client is told). */
  requested(target: string, referredBy: string | undefined): void
  /** Our REFER, or the target's call, failed with `status`. */
  failed(status: number, reason: string): void
}

export class CallTransfer {
  /** Our REFER is accepted and its NOTIFYs are awaited (we are the transferor). */
  private transferring = false

  constructor(private readonly ep: SipEndpoint, private readonly dialog: TransferDialog) {}

  /** Transferor: REFER to the other side with Refer-To `targetUri`. */
  start(targetUri: string): 'ok' | 'wrong-state' {
    if (!this.dialog.connected || this.transferring) return 'wrong-state'
    this.transferring = true
    const refer = this.dialog.nextRequest('REFER')
    refer.append('refer-to', `<${targetUri}>`)
    refer.append('referred-by', `<${this.ep.aor}>`)
    refer.append('contact', this.ep.contact().value)
    this.ep.send(refer, (res) => {
      const retried = (res as ChallengedResponse).retriedAs
      if (retried) return this.dialog.noteCseq(retried.cseq.seq)
      if (res.status < 300) return // accepted: the outcome comes in NOTIFYs
      this.transferring = false
      this.dialog.failed(res.status, res.reason)
    })
    return 'ok'
  }

  /** Transferor: a NOTIFY in the dialog (200 to it; a final sipfrag status decides). */
  onNotify(req: SipRequest): void {
    this.ep.respond(req, 200)
    if (!this.transferring || !(req.get('event') ?? '').toLowerCase().startsWith('refer')) return
    const m = /^SIP\/2\.0 (\d{3})\s*([^\r\n]*)/.exec(decoder.decode(req.body))
    if (!m) return
    const status = Number(m[1])
    if (status < 200) return
    this.transferring = false
    if (status < 300) this.dialog.endTransferred()
    else this.dialog.failed(status, m[2] ?? '')
  }

  /** Transferee: a REFER from the other side. */
  onRefer(req: SipRequest, contact: HeaderField): void {
    const referTo = req.get('refer-to')
    const target = referTo === undefined ? null : uriText(referTo)
    if (target === null || !/^sips?:/i.test(target) || !this.dialog.connected) {
      this.ep.respond(req, 400, { reason: target === null ? 'Missing Refer-To' : 'Bad Refer-To' })
      return
    }
    this.ep.respond(req, 202, { headers: [contact] })
    this.notify(100, 'Trying')
    const by = req.get('referred-by')
    this.dialog.requested(target, by === undefined ? undefined : uriText(by))
  }

  /**
   * Transferee: how the call to the Refer-To target goes (§2.4.5), as a NOTIFY with a
   * message/sipfrag status line; a final status ends the implicit subscription.
   */
  notify(status: number, reason: string): void {
    const notify = this.dialog.nextRequest('NOTIFY')
    notify.append('event', 'refer')
    notify.append('subscription-state', status >= 200 ? 'terminated;reason=noresource' : 'active;expires=60')
    notify.append('content-type', SIPFRAG)
    notify.body = bodyOf(`SIP/2.0 ${status} ${reason}\r\n`)
    this.ep.send(notify, () => {})
  }
}
