/**
 * Dialog state for answered calls the proxy does not anchor (anchored ones live in
 * anchored-dialogs.ts): enough to end a call from the middle — an operator's hang-up on the
 * admin page, or a leg whose connection dropped — with a BYE to each side that can still be
 * reached (RFC 3261 §15.1.1), like Kamailio's dialog module with `dlg_end_dlg`.
 *
 * Kept from the 2xx until a BYE passes (or the call ends otherwise), keyed by Call-ID. A call
 * whose BYE never passes (a phone vanished over UDP) is forgotten after `maxAgeMs`, swept
 * once a minute, without a BYE. About 1 KB per answered call.
 */
import type { SipRequest } from '../message/sip-message.ts'
import type { Flow } from '../transport/flow.ts'
import type { TransportLayer } from '../transport/transport-layer.ts'
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import { byeRequest, dialogSides, namesThisGateway, type DialogSide, type DialogSidesInput } from './dialog-sides.ts'
import type { ProxyTransactions } from './proxy-transactions.ts'

const log = logger('sip.proxy')

interface ProxiedDialog {
  callId: string
  caller: DialogSide
  callee: DialogSide
  /** Scheduler time of the 2xx, ms. */
  at: number
}

export interface ProxiedDialogsOptions {
  /** This gateway's addresses: which Record-Route entries of a 2xx are ours. */
  local: LocalAddresses
  transport: TransportLayer
  transactions: ProxyTransactions
  scheduler: Scheduler
  /** Forget a dialog this long after its 2xx, ms (media.sessionTimeout); 0: never. */
  maxAgeMs: number
}

/** See the file comment. */
export class ProxiedDialogs {
  private readonly byCallId = new Map<string, ProxiedDialog>()
  private sweepTimer: TimerHandle | null = null

  constructor(private readonly o: ProxiedDialogsOptions) {}

  get size(): number {
    return this.byCallId.size
  }

  /** Records the dialog of a 2xx to an INVITE (the first one for its Call-ID wins, as for forks). */
  record(input: Omit<DialogSidesInput, 'isOurRecordRoute'>): void {
    const callId = input.invite.callId
    if (this.byCallId.has(callId)) return
    const sides = dialogSides({ ...input, isOurRecordRoute: (v) => namesThisGateway(v, (h, port) => this.o.local.isLocal(h, port)) })
    this.byCallId.set(callId, { callId, ...sides, at: this.o.scheduler.now() })
    if (this.sweepTimer === null && this.o.maxAgeMs > 0) this.sweepTimer = this.o.scheduler.setTimer(60_000, sweep, this)
  }

  /** An in-dialog request passing through: notes its CSeq; a BYE ends the dialog. */
  noteRequest(request: SipRequest): void {
    const d = this.byCallId.get(request.callId)
    if (d === undefined) return
    if (request.method === 'BYE') {
      this.byCallId.delete(request.callId)
      return
    }
    const side = request.from.params.tag === d.callee.tag ? d.callee : d.caller
    if (request.cseq.seq > side.cseq) side.cseq = request.cseq.seq
  }

  /**
   * Ends the call from the middle: a BYE to both sides, with `reason` (RFC 3326). Returns
   * false when no answered call has that Call-ID.
   */
  hangUp(callId: string, reason: string): boolean {
    const d = this.byCallId.get(callId)
    if (d === undefined) return false
    this.byCallId.delete(callId)
    this.sendBye(d, d.caller, d.callee, reason)
    this.sendBye(d, d.callee, d.caller, reason)
    log.info('call ended by the gateway', { callId, reason })
    return true
  }

  /**
   * A connection-oriented flow closed: each call that used it gets a BYE on the other side
   * (nobody is left to send one on the dead side). Returns the Call-IDs ended.
   */
  endOnFlow(flow: Flow): string[] {
    const ended: string[] = []
    for (const d of this.byCallId.values()) {
      const deadIsCaller = d.caller.flow === flow
      if (!deadIsCaller && d.callee.flow !== flow) continue
      ended.push(d.callId)
      const from = deadIsCaller ? d.caller : d.callee
      const to = deadIsCaller ? d.callee : d.caller
      if (to.flow === flow || (to.flow !== null && !to.flow.open)) continue
      this.sendBye(d, from, to, 'SIP;cause=480;text="Connection to the other party was lost"')
    }
    for (const id of ended) this.byCallId.delete(id)
    if (ended.length > 0) log.info('calls ended: a leg\'s connection closed', { flowId: flow.id, calls: ended.length })
    return ended
  }

  /** Forgets dialogs older than maxAgeMs (insertion order is age order). */
  sweep(): void {
    this.sweepTimer = null
    const limit = this.o.scheduler.now() - this.o.maxAgeMs
    for (const d of this.byCallId.values()) {
      if (d.at > limit) break
      this.byCallId.delete(d.callId)
    }
    if (this.byCallId.size > 0) this.sweepTimer = this.o.scheduler.setTimer(60_000, sweep, this)
  }

  /** Stops the sweep timer (shutdown). */
  close(): void {
    if (this.sweepTimer !== null) this.o.scheduler.clearTimer(this.sweepTimer)
    this.sweepTimer = null
    this.byCallId.clear()
  }

  private sendBye(d: ProxiedDialog, from: DialogSide, to: DialogSide, reason: string): void {
    const bye = byeRequest(d.callId, from, to, (t) => this.o.transport.sentBy(t), reason)
    this.o.transactions.sendRequest(bye, to.destination, {
      onResponse: () => {},
      onTimeout: () => log.info('BYE from the gateway timed out', { callId: d.callId }),
      onTransportError: () => log.info('BYE from the gateway could not be sent', { callId: d.callId }),
    })
  }
}

function sweep(dialogs: ProxiedDialogs): void {
  dialogs.sweep()
}
