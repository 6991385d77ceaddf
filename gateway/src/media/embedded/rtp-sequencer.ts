/**
 * One outgoing RTP stream of the relay: a stable SSRC of the gateway's own, and sequence
 * numbers and timestamps that stay continuous when the incoming source changes (a new SSRC
 * after a re-INVITE, a phone that restarts its stream after hold) or pauses (forwarding
 * stopped while a leg is on hold).
 *
 * RFC 3550 §5.1: "sequence number: 16 bits. The sequence number increments by one for each
 * RTP data packet sent, and may be used by the receiver to detect packet loss and to restore
 * packet sequence." — "timestamp: 32 bits. The timestamp reflects the sampling instant of the
 * first octet in the RTP data packet." — "SSRC: 32 bits. The SSRC field identifies the
 * synchronization source."
 *
 * Within one incoming source the mapping is a constant offset (output = input + offset), so
 * loss, reordering and RFC 4733 events (several packets sharing the event's start timestamp)
 * pass through unchanged. At a source switch or after a pause the offsets are re-anchored so
 * that the next packet follows the last one sent: sequence number + 1, and the timestamp
 * advanced by the wall-clock time that passed (at the stream's clock rate), so that the far
 * end's jitter buffer sees a talkspurt start, not a jump back in time. That first packet gets
 * the marker bit (RFC 3551 §4.1: "the first packet of a talkspurt").
 *
 * The results are left in fields (`sequenceNumber`, `timestamp`, `marker`) rather than
 * returned as an object, to keep the relay's hot path allocation free.
 */
export class RtpSequencer {
  /** Sequence number of the packet last mapped (valid after {@link map}). */
  sequenceNumber = 0
  /** Timestamp of the packet last mapped. */
  timestamp = 0
  /** Marker bit for the packet last mapped (set on the first packet after a re-anchor). */
  marker = false

  private seqOffset = 0
  private tsOffset = 0
  private lastInputSsrc = -1
  private started = false
  private resyncPending = true
  /** Highest sequence number sent (serial-number order) and its timestamp. */
  private lastSeq = 0
  private lastTs = 0
  private lastSentAtMs = 0

  /**
   * @param ssrc the gateway's SSRC for this stream (32-bit unsigned)
   * @param clockRate RTP clock rate in Hz (8000 for G.711 and telephone-event/8000)
   */
  constructor(readonly ssrc: number, readonly clockRate = 8000) {}

  /** Re-anchors on the next packet (call when forwarding resumes after a pause). */
  resync(): void {
    this.resyncPending = true
  }

  /**
   * Maps one incoming packet's header fields to the outgoing stream; read the results from
   * {@link sequenceNumber}, {@link timestamp} and {@link marker}.
   *
   * @param inputSsrc SSRC of the incoming packet
   * @param inputSeq its sequence number
   * @param inputTs its timestamp
   * @param inputMarker its marker bit
   * @param nowMs a monotonic clock in milliseconds (performance.now())
   */
  map(inputSsrc: number, inputSeq: number, inputTs: number, inputMarker: boolean, nowMs: number): void {
    let marker = inputMarker
    if (this.resyncPending || inputSsrc !== this.lastInputSsrc) {
      if (!this.started) {
        // The first source passes through unchanged (its values were random already).
        this.seqOffset = 0
        this.tsOffset = 0
        this.started = true
        this.lastSeq = (inputSeq - 1) & 0xffff
        this.lastTs = inputTs
      } else {
        const elapsed = Math.max(1, Math.round(((nowMs - this.lastSentAtMs) * this.clockRate) / 1000))
        const nextSeq = (this.lastSeq + 1) & 0xffff
        const nextTs = (this.lastTs + elapsed) >>> 0
        this.seqOffset = (nextSeq - inputSeq) & 0xffff
        this.tsOffset = (nextTs - inputTs) >>> 0
        marker = true
      }
      this.lastInputSsrc = inputSsrc
      this.resyncPending = false
    }
    const seq = (inputSeq + this.seqOffset) & 0xffff
    const ts = (inputTs + this.tsOffset) >>> 0
    // RFC 3550 Appendix A.1: sequence numbers compare modulo 2^16.
    if (((seq - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = seq
      this.lastTs = ts
    }
    this.lastSentAtMs = nowMs
    this.sequenceNumber = seq
    this.timestamp = ts
    this.marker = marker
  }

  /**
   * Makes room for one packet of the gateway's own (e.g. a silence frame in front of an
   * RFC 4733 event, see TelephoneEventPrimer) just before the packet last mapped: returns
   * the sequence number that packet had, and moves it ({@link sequenceNumber}) and every
   * later packet of the current source one up, so that the output numbering stays gapless
   * and without duplicates (RFC 3550 §5.1: "The sequence number increments by one for each
   * RTP data packet sent"). Timestamps are unchanged.
   */
  insertBefore(): number {
    const reserved = this.sequenceNumber
    this.seqOffset = (this.seqOffset + 1) & 0xffff
    this.sequenceNumber = (reserved + 1) & 0xffff
    if (((this.sequenceNumber - this.lastSeq) & 0xffff) < 0x8000) this.lastSeq = this.sequenceNumber
    return reserved
  }

  /** Maps an input timestamp of the current source (RTCP sender reports). */
  mapTimestamp(inputTs: number): number {
    return (inputTs + this.tsOffset) >>> 0
  }

  /** Maps an output sequence number back to the current source's numbering (RTCP reports). */
  unmapSequenceNumber(outputSeq: number): number {
    return (outputSeq - this.seqOffset) & 0xffff
  }

  /** SSRC of the current incoming source, or -1 before the first packet. */
  get inputSsrc(): number {
    return this.lastInputSsrc
  }
}
