/**
 * The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4) for a JSON call leg's answer: the
 * 2xx to an INVITE goes again at T1, doubling up to T2, until the ACK arrives — even over a
 * reliable flow, since a proxy may forward it over UDP. After 64*T1 without an ACK the dialog
 * is confirmed but "the session SHOULD be terminated": `onGiveUp` runs (the leg sends BYE).
 */
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import type { SipResponse } from '../../sip/message/sip-message.ts'

export class OkRetransmission {
  private ok2xx: SipResponse | null = null
  private timer: TimerHandle | null = null
  private interval = 0
  private startedAt = 0

  /**
   * @param transmit sends the 2xx again (no transaction: the UAS core does it, §13.3.1.4)
   * @param timers T1 and T2 in ms (§17.1.1.1)
   */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly timers: { t1: number; t2: number },
    private readonly transmit: (response: SipResponse) => void,
    private readonly onGiveUp: () => void,
  ) {}

  /** The 2xx just went: retransmit it until `stop()`. */
  start(ok2xx: SipResponse): void {
    this.stop()
    this.ok2xx = ok2xx
    this.interval = this.timers.t1
    this.startedAt = this.scheduler.now()
    this.timer = this.scheduler.setTimer(this.interval, this.tick)
  }

  /** The ACK came (or the call ended): no more retransmissions. */
  stop(): void {
    if (this.timer !== null) this.scheduler.clearTimer(this.timer)
    this.timer = null
    this.ok2xx = null
  }

  private readonly tick = (): void => {
    this.timer = null
    const ok = this.ok2xx
    if (ok === null) return
    if (this.scheduler.now() - this.startedAt >= 64 * this.timers.t1) {
      this.ok2xx = null
      this.onGiveUp()
      return
    }
    this.transmit(ok)
    this.interval = Math.min(2 * this.interval, this.timers.t2)
    this.timer = this.scheduler.setTimer(this.interval, this.tick)
  }
}
