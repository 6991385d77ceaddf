/**
 * Decides when an RFC 4733 telephone-event relayed to a browser needs one G.711 silence frame
 * in front of it, so that the browser plays the event at all.
 *
 * Why: Chromium's jitter buffer (WebRTC NetEq) plays received telephone-events as tones, but
 * only while it is decoding. After some hundred milliseconds without audio packets its
 * concealment fades to zero and NetEq enters its "muted state"
 * (`enable_muted_state_ && expand_->Muted() && packet_buffer_->Empty()` in
 * neteq_impl.cc, enabled for every WebRTC audio receive stream). Telephone-event packets go
 * to NetEq's DTMF buffer, not to its packet buffer, so they never end the muted state: an
 * event that starts after the audio stopped is received and dropped silently. That is what a
 * phone with voice activity detection sends, and what SIPp's `uac_pcap` sends (its DTMF pcap
 * plays, under its own SSRC, one second after the audio pcap ended). rtpengine hides the
 * problem by relaying the new SSRC as is, so Chromium opens a fresh receive stream; the
 * embedded relay keeps one SSRC towards the browser (see RtpSequencer), so it sends one
 * frame of silence with the event's timestamp just before the event: NetEq leaves the muted
 * state, decodes the frame, and plays the event from that timestamp on.
 *
 * The test is done on output RTP timestamps, not on arrival times, so that network jitter
 * cannot trigger it: an event "starts in an audio gap" when its start timestamp lies more
 * than one frame after the end of the last audio frame sent (or no audio was sent yet). A
 * phone that keeps sending audio during the event (RFC 4733 allows both) never gets a
 * silence frame. Each event is looked at once (RFC 4733: all packets of one event carry the
 * event's start timestamp).
 *
 * Plain state, no timers, no allocation: the relay calls {@link audioSent} for each audio
 * packet and {@link startsInAudioGap} for each telephone-event packet.
 */
export class TelephoneEventPrimer {
  private audioSeen = false
  /** Output timestamp just after the last audio frame sent (its timestamp + its samples). */
  private audioEnd = 0
  private eventSeen = false
  /** Start timestamp of the last event looked at. */
  private eventStart = 0

  /**
   * @param slackSamples how far (in samples) an event may start after the end of the last
   *   audio frame and still count as "audio is flowing": one 20 ms G.711 frame by default,
   *   so that an event packet overtaking the audio packet of the same instant is no gap
   */
  constructor(readonly slackSamples = 160) {}

  /**
   * Notes an audio frame sent to the browser.
   *
   * @param timestamp its output RTP timestamp
   * @param samples its length in samples (for G.711, its payload length in octets)
   */
  audioSent(timestamp: number, samples: number): void {
    this.audioSeen = true
    this.audioEnd = (timestamp + samples) >>> 0
  }

  /**
   * For a telephone-event packet about to be sent with output timestamp `timestamp`: true
   * when it is the first packet seen of its event and the audio stream has a gap at the
   * event's start (send a silence frame with this timestamp first, and report it with
   * {@link audioSent}). Later packets of the same event (same timestamp) return false.
   */
  startsInAudioGap(timestamp: number): boolean {
    if (this.eventSeen && timestamp === this.eventStart) return false
    this.eventSeen = true
    this.eventStart = timestamp
    if (!this.audioSeen) return true
    // RFC 3550 §5.1: timestamps wrap modulo 2^32; compare them as a signed difference.
    return ((timestamp - this.audioEnd) | 0) > this.slackSamples
  }
}
