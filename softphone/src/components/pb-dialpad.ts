import { LitElement, css, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { sharedStyles } from './shared-styles.ts'

/** The twelve keys with their ITU-T E.161 letters. */
export const DIALPAD_KEYS: ReadonlyArray<{ readonly digit: string; readonly letters: string; readonly label: string }> = [
  { digit: '1', letters: '', label: '1' },
  { digit: '2', letters: 'ABC', label: '2' },
  { digit: '3', letters: 'DEF', label: '3' },
  { digit: '4', letters: 'GHI', label: '4' },
  { digit: '5', letters: 'JKL', label: '5' },
  { digit: '6', letters: 'MNO', label: '6' },
  { digit: '7', letters: 'PQRS', label: '7' },
  { digit: '8', letters: 'TUV', label: '8' },
  { digit: '9', letters: 'WXYZ', label: '9' },
  { digit: '*', letters: '', label: 'star' },
  { digit: '0', letters: '+', label: '0' },
  { digit: '#', letters: '', label: 'pound' },
]

const LONG_PRESS_MS = 600

/**
 * A phone keypad. Keys are buttons in a 3×4 grid with one tab stop: arrow keys move between
 * keys, Enter/Space press, and typing 0–9, * or # while the pad has focus presses that key.
 * A long press on 0 gives +.
 *
 * @fires pb-digit - `{ detail: { digit } }` when a key is pressed
 * @csspart key - each key button
 * @csspart digit - the big character on a key
 */
@customElement('pb-dialpad')
export class PbDialpad extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .grid {
      display: grid; grid-template-columns: repeat(3, 1fr); gap: var(--pb-dialpad-gap, 12px);
      justify-items: center; max-width: 300px; margin: 0 auto;
    }
    button.key {
      width: var(--pb-key-size, 68px); height: var(--pb-key-size, 68px); border-radius: 50%;
      border: none; background: var(--pb-surface-2); display: grid; place-content: center;
      line-height: 1; transition: background-color .12s, transform .06s; touch-action: manipulation;
      user-select: none;
    }
    button.key:hover { background: var(--pb-surface-3); }
    button.key:active, button.key.pressed { background: var(--pb-accent-soft); transform: scale(.96); }
    .digit { font-size: var(--pb-key-font, 26px); font-weight: 500; color: var(--pb-text); }
    .letters { font-size: 10px; font-weight: 700; letter-spacing: .12em; color: var(--pb-text-3); min-height: 12px; margin-top: 3px; }
    :host([compact]) { --pb-key-size: 56px; --pb-key-font: 22px; --pb-dialpad-gap: 10px; }
    @media (max-width: 380px) { :host { --pb-key-size: 60px; --pb-dialpad-gap: 10px; } }
  `]

  /** Smaller keys (in-call DTMF). */
  @property({ type: Boolean, reflect: true }) compact = false
  /** Accessible name of the keypad group. */
  @property() label = 'Dial pad'
  private focusIndex = 0
  private pressTimer: ReturnType<typeof setTimeout> | undefined
  private longPressed = false

  /** Presses a key programmatically (keyboard shortcuts from the host). */
  press(digit: string): void {
    this.dispatchEvent(new CustomEvent('pb-digit', { detail: { digit }, bubbles: true, composed: true }))
    const button = this.keyButton(DIALPAD_KEYS.findIndex((k) => k.digit === digit))
    if (button) {
      button.classList.add('pressed')
      setTimeout(() => button.classList.remove('pressed'), 120)
    }
  }

  private keyButton(index: number): HTMLButtonElement | null {
    return index < 0 ? null : this.renderRoot.querySelector<HTMLButtonElement>(`button[data-index="${index}"]`)
  }

  private onKeyDown(event: KeyboardEvent): void {
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 3, ArrowUp: -3 }
    const move = moves[event.key]
    if (move !== undefined) {
      event.preventDefault()
      const next = this.focusIndex + move
      if (next >= 0 && next < DIALPAD_KEYS.length) this.moveFocus(next)
      return
    }
    if (event.key === 'Home') { event.preventDefault(); this.moveFocus(0); return }
    if (event.key === 'End') { event.preventDefault(); this.moveFocus(DIALPAD_KEYS.length - 1); return }
    if (/^[0-9*#+]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault()
      this.press(event.key)
    }
  }

  private moveFocus(index: number): void {
    this.focusIndex = index
    this.requestUpdate()
    void this.updateComplete.then(() => this.keyButton(index)?.focus())
  }

  private onPointerDown(digit: string): void {
    this.longPressed = false
    if (digit !== '0') return
    this.pressTimer = setTimeout(() => {
      this.longPressed = true
      this.press('+')
    }, LONG_PRESS_MS)
  }

  private onPointerEnd(): void {
    if (this.pressTimer !== undefined) clearTimeout(this.pressTimer)
    this.pressTimer = undefined
  }

  private onClick(index: number, digit: string): void {
    this.focusIndex = index
    if (this.longPressed) {
      this.longPressed = false
      return
    }
    this.press(digit)
  }

  override render() {
    return html`<div class="grid" role="group" aria-label=${this.label} @keydown=${this.onKeyDown}>
      ${DIALPAD_KEYS.map((key, index) => html`<button class="key" part="key" data-index=${index}
          tabindex=${index === this.focusIndex ? 0 : -1}
          aria-label=${key.letters && key.digit !== '0' ? `${key.label} ${key.letters}` : key.digit === '0' ? '0 (hold for +)' : key.label}
          @pointerdown=${() => this.onPointerDown(key.digit)}
          @pointerup=${this.onPointerEnd} @pointerleave=${this.onPointerEnd}
          @click=${() => this.onClick(index, key.digit)}>
        <span class="digit" part="digit" aria-hidden="true">${key.digit}</span>
        <span class="letters" aria-hidden="true">${key.letters}</span>
      </button>`)}
    </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-dialpad': PbDialpad
  }
}
