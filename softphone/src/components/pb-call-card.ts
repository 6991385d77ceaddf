import { LitElement, css, html, nothing, type TemplateResult } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { CallSnapshot } from '../signaling/signaling-client.ts'
import { endMessage, formatDuration, initials, isFailureEnd, partyName, partySubtitle } from './format.ts'
import { icon, type IconName } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'
import './pb-dialpad.ts'
import './pb-level-meter.ts'

type Panel = 'none' | 'keypad' | 'transfer'

/** The line under the caller's name. Pure (tests use it). */
export function callStatusText(call: CallSnapshot, durationSeconds: number, name = partyName(call.remote.displayName, call.remote.user)): string {
  switch (call.state) {
    case 'dialing': return 'Calling…'
    case 'ringing': return 'Ringing…'
    case 'early-media': return 'Ringing · early audio'
    case 'incoming': return 'Incoming call'
    case 'ended': return endMessage(call.end, name, call.direction)
    case 'connected': {
      const parts = [formatDuration(durationSeconds)]
      if (call.onHold) parts.push('On hold')
      else if (call.remoteHold) parts.push('Held by the other party')
      return parts.join(' · ')
    }
  }
}

/**
 * The current call: who (large name and number), its state and timer, audio level meters for
 * both directions, and controls — mute, hold/resume, DTMF keypad, blind transfer, hang up —
 * plus live call quality.
 *
 * @fires pb-hangup - `{ detail: { callId } }`
 * @fires pb-mute - `{ detail: { callId } }` toggles mute
 * @fires pb-hold - `{ detail: { callId } }` toggles hold
 * @fires pb-dtmf - `{ detail: { callId, digit } }`
 * @fires pb-transfer - `{ detail: { callId, target } }`
 * @fires pb-redial - `{ detail: { callId, target } }` "Call again" on an ended call
 * @fires pb-dismiss - `{ detail: { callId } }` close the ended call
 * @csspart card - the card container
 * @csspart name - the remote party's name
 * @csspart status - the state / timer line
 * @csspart controls - the row of call controls
 * @csspart hangup - the hang-up button
 */
@customElement('pb-call-card')
export class PbCallCard extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .card { padding: 28px 24px 24px; }
    .who { text-align: center; }
    .avatar {
      width: 84px; height: 84px; margin: 0 auto 14px; border-radius: 50%; display: grid; place-items: center;
      background: var(--pb-accent-soft); color: var(--pb-accent); font-size: 30px; font-weight: 700;
      position: relative;
    }
    .avatar.ringing::after {
      content: ''; position: absolute; inset: -6px; border-radius: 50%; border: 2px solid var(--pb-accent);
      opacity: 0; animation: ring 1.6s ease-out infinite;
    }
    @keyframes ring { 0% { transform: scale(.9); opacity: .6; } 100% { transform: scale(1.25); opacity: 0; } }
    @media (prefers-reduced-motion: reduce) { .avatar.ringing::after { animation: none; } }
    .name { margin: 0; font-size: 28px; line-height: 1.2; font-weight: 700; letter-spacing: -.01em; overflow-wrap: anywhere; }
    .number { margin: 4px 0 0; font-size: 15px; color: var(--pb-text-2); overflow-wrap: anywhere; }
    .status { margin: 10px 0 0; font-size: 15px; font-weight: 600; color: var(--pb-text-2); }
    .status.live { color: var(--pb-green-text); }
    .status.failed { color: var(--pb-red-text); }
    .status.held { color: var(--pb-amber-text); }
    .badges { display: flex; justify-content: center; flex-wrap: wrap; gap: 6px; margin-top: 10px; min-height: 0; }
    .badge { font-size: 12px; font-weight: 700; padding: 3px 10px; border-radius: 999px; background: var(--pb-surface-2); color: var(--pb-text-2); }
    .badge.warn { background: var(--pb-amber-soft); color: var(--pb-amber-text); }
    .badge.err { background: var(--pb-red-soft); color: var(--pb-red-text); }
    .meters { display: grid; gap: 10px; margin: 22px 0 4px; padding: 14px 16px; background: var(--pb-surface-2); border-radius: var(--pb-radius-sm); }
    .controls { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 22px 0 8px; }
    .ctl { display: flex; flex-direction: column; align-items: center; gap: 6px; font-size: 12px; font-weight: 600; color: var(--pb-text-2); }
    .ctl button {
      width: 56px; height: 56px; border-radius: 50%; border: 1px solid var(--pb-border); background: var(--pb-surface);
      display: grid; place-items: center; color: var(--pb-text); transition: background-color .15s, border-color .15s, color .15s;
    }
    .ctl button:hover:not(:disabled) { background: var(--pb-surface-2); }
    .ctl button:is([aria-pressed="true"], [aria-expanded="true"]):not(:disabled) { background: var(--pb-text); border-color: var(--pb-text); color: var(--pb-surface); }
    .ctl button.mute[aria-pressed="true"]:not(:disabled) { background: var(--pb-red); border-color: var(--pb-red); color: #fff; }
    .hangup-row { display: flex; flex-direction: column; align-items: center; gap: 6px; margin-top: 18px; font-size: 12px; font-weight: 600; color: var(--pb-text-2); }
    button.hangup {
      width: 68px; height: 68px; border-radius: 50%; border: none; background: var(--pb-red); color: #fff;
      display: grid; place-items: center; box-shadow: 0 6px 16px color-mix(in srgb, var(--pb-red) 32%, transparent);
      transition: background-color .15s, transform .06s;
    }
    button.hangup:hover { background: var(--pb-red-strong); }
    button.hangup:active { transform: scale(.97); }
    .panel { margin-top: 14px; padding: 16px; border-radius: var(--pb-radius-sm); background: var(--pb-surface-2); }
    .panel pb-dialpad { --pb-surface-2: var(--pb-surface); --pb-surface-3: var(--pb-border); }
    .sent { text-align: center; font-size: 20px; font-weight: 600; letter-spacing: .12em; min-height: 28px; margin: 0 0 10px; color: var(--pb-text); overflow-wrap: anywhere; }
    .sent.empty { font-size: 13px; letter-spacing: 0; font-weight: 500; color: var(--pb-text-3); }
    form.transfer { display: flex; gap: 8px; }
    form.transfer .field { flex: 1; min-width: 0; }
    .transfer-note { margin: 8px 0 0; font-size: 13px; color: var(--pb-text-2); }
    .ended-actions { display: flex; justify-content: center; gap: 10px; margin-top: 24px; }
    @media (max-width: 400px) {
      .card { padding: 22px 16px 18px; }
      .name { font-size: 24px; }
      .ctl button { width: 52px; height: 52px; }
    }
  `]

  @property({ attribute: false }) call!: CallSnapshot
  /** Resolved display name (from the call, or history for outgoing calls). */
  @property() name = ''
  @property({ type: Number }) duration = 0
  @property({ attribute: false }) localStream: MediaStream | undefined
  @property({ attribute: false }) remoteStream: MediaStream | undefined
  @state() private panel: Panel = 'none'
  @state() private transferTarget = ''
  @query('input[name="transfer"]') private transferInput?: HTMLInputElement

  private fire(type: string, detail: Record<string, unknown> = {}): void {
    this.dispatchEvent(new CustomEvent(type, { detail: { callId: this.call.id, ...detail }, bubbles: true, composed: true }))
  }

  private toggle(panel: Panel): void {
    this.panel = this.panel === panel ? 'none' : panel
    if (this.panel === 'transfer') void this.updateComplete.then(() => this.transferInput?.focus())
    if (this.panel === 'keypad') {
      void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('pb-dialpad')?.shadowRoot?.querySelector<HTMLElement>('button[tabindex="0"]')?.focus())
    }
  }

  private submitTransfer(event: Event): void {
    event.preventDefault()
    const target = this.transferTarget.trim()
    if (!target) return
    this.fire('pb-transfer', { target })
  }

  private control(label: string, iconName: IconName, onClick: () => void, opts: { pressed?: boolean; expanded?: boolean; cls?: string; disabled?: boolean } = {}): TemplateResult {
    return html`<div class="ctl">
      <button class=${opts.cls ?? ''} aria-label=${label} ?disabled=${opts.disabled ?? false}
        aria-pressed=${opts.pressed === undefined ? nothing : String(opts.pressed)}
        aria-expanded=${opts.expanded === undefined ? nothing : String(opts.expanded)}
        @click=${onClick}>${icon(iconName, 22)}</button>
      <span aria-hidden="true">${label}</span>
    </div>`
  }

  override render() {
    const call = this.call
    if (!call) return nothing
    const name = this.name || partyName(call.remote.displayName, call.remote.user)
    const connected = call.state === 'connected'
    const ended = call.state === 'ended'
    const ringing = call.state === 'dialing' || call.state === 'ringing' || call.state === 'early-media'
    const transfer = call.transfer
    return html`<section class="card" part="card" aria-label=${`Call with ${name}`}>
      <div class="who">
        <div class="avatar ${ringing ? 'ringing' : ''}" aria-hidden="true">${initials(name)}</div>
        <h2 class="name" part="name">${name}</h2>
        <p class="number">${partySubtitle(call.remote)}</p>
        <p class="status tabular ${connected && !call.onHold && !call.remoteHold ? 'live' : ''} ${connected && (call.onHold || call.remoteHold) ? 'held' : ''} ${ended && isFailureEnd(call.end, call.direction) ? 'failed' : ''}" part="status"
          role="status" aria-live="polite" aria-atomic="true">${callStatusText(call, this.duration, name)}</p>
        <div class="badges">
          ${call.muted && !ended ? html`<span class="badge err">Muted</span>` : nothing}
          ${call.referredBy ? html`<span class="badge">Transferred by ${call.referredBy}</span>` : nothing}
          ${transfer && !ended ? html`<span class="badge ${transfer.state === 'failed' ? 'err' : 'warn'}">${
            transfer.state === 'failed' ? `Transfer to ${transfer.target} failed`
            : transfer.state === 'succeeded' ? `Transferred to ${transfer.target}`
            : `Transferring to ${transfer.target}…`}</span>` : nothing}
        </div>
      </div>
      ${ended ? html`<div class="ended-actions">
          <button class="btn" @click=${() => this.fire('pb-dismiss')}>Close</button>
          <button class="btn primary" @click=${() => this.fire('pb-redial', { target: call.remote.user.includes('@') ? call.remote.user : call.remote.uri.replace(/^sips?:/, '') })}>${icon('phone', 16)}Call again</button>
        </div>` : html`
        ${connected || call.state === 'early-media' ? html`<div class="meters">
          <pb-level-meter label="You" icon="mic" .stream=${this.localStream} ?muted=${call.muted}></pb-level-meter>
          <pb-level-meter label=${name} icon="volume" .stream=${this.remoteStream}></pb-level-meter>
        </div>` : nothing}
        ${connected ? html`<div class="controls" part="controls">
          ${this.control(call.muted ? 'Unmute' : 'Mute', call.muted ? 'mic-off' : 'mic', () => this.fire('pb-mute'), { pressed: call.muted, cls: 'mute' })}
          ${this.control(call.onHold ? 'Resume' : 'Hold', call.onHold ? 'play' : 'pause', () => this.fire('pb-hold'), { pressed: call.onHold })}
          ${this.control('Keypad', 'keypad', () => this.toggle('keypad'), { expanded: this.panel === 'keypad' })}
          ${this.control('Transfer', 'phone-forwarded', () => this.toggle('transfer'), { expanded: this.panel === 'transfer' })}
        </div>` : nothing}
        ${connected && this.panel === 'keypad' ? html`<div class="panel" id="keypad-panel">
          <p class="sent ${call.dtmfSent ? '' : 'empty'}" aria-live="polite">${call.dtmfSent || 'Tones are sent as you press keys'}</p>
          <pb-dialpad compact label="Send tones" @pb-digit=${(e: CustomEvent<{ digit: string }>) => this.fire('pb-dtmf', { digit: e.detail.digit })}></pb-dialpad>
        </div>` : nothing}
        ${connected && this.panel === 'transfer' ? html`<div class="panel">
          <form class="transfer" @submit=${this.submitTransfer}>
            <label class="sr-only" for="transfer">Transfer to</label>
            <input class="field" id="transfer" name="transfer" placeholder="Name or number" autocomplete="off"
              .value=${this.transferTarget} @input=${(e: Event) => { this.transferTarget = (e.target as HTMLInputElement).value }}>
            <button class="btn primary" type="submit" ?disabled=${!this.transferTarget.trim() || transfer?.state === 'trying'}>Transfer</button>
          </form>
          <p class="transfer-note">Blind transfer: ${name} is connected to the new number and you leave the call.</p>
        </div>` : nothing}
        <div class="hangup-row">
          <button class="hangup" part="hangup" aria-label=${ringing ? 'Cancel call' : 'Hang up'} @click=${() => this.fire('pb-hangup')}>${icon('phone-off', 28)}</button>
          <span aria-hidden="true">${ringing ? 'Cancel call' : 'Hang up'}</span>
        </div>
      `}
    </section>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-call-card': PbCallCard
  }
}
