import { LitElement, css, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { AudioLevelController } from '../controllers/audio-level-controller.ts'
import { icon, type IconName } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

const SEGMENTS = 14

/**
 * A live level meter for one audio stream (the microphone or the far end), as a row of
 * segments. Exposed to assistive technology as a `meter`.
 *
 * @csspart meter - the segment row
 * @csspart label - the caption
 */
@customElement('pb-level-meter')
export class PbLevelMeter extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: flex; align-items: center; gap: 10px; min-width: 0; }
    .who { display: flex; align-items: center; gap: 6px; width: 92px; flex: none; font-size: 12px; font-weight: 600; color: var(--pb-text-2); overflow: hidden; }
    .who span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .meter { display: grid; grid-template-columns: repeat(${SEGMENTS}, 1fr); gap: 3px; flex: 1; height: 10px; }
    .seg { border-radius: 2px; background: var(--pb-surface-3); transition: background-color .06s; }
    .seg.on { background: var(--pb-green); }
    .seg.on.hot { background: var(--pb-amber); }
    :host([muted]) .seg.on { background: var(--pb-text-3); }
  `]

  @property({ attribute: false }) stream: MediaStream | undefined
  @property() label = ''
  @property() icon: IconName = 'mic'
  /** Greys the meter (microphone muted): the level still shows what the mic hears. */
  @property({ type: Boolean, reflect: true }) muted = false
  /** Exposed for tests: current level 0..1. */
  readonly levels = new AudioLevelController(this)

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('stream')) this.levels.setStream(this.stream)
  }

  override render() {
    const lit = Math.round(this.levels.level * SEGMENTS)
    return html`
      <div class="who" part="label">${icon(this.icon, 14)}<span>${this.label}</span></div>
      <div class="meter" part="meter" role="meter" aria-label=${`${this.label} audio level`}
        aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(this.levels.level * 100)}>
        ${Array.from({ length: SEGMENTS }, (_, i) => html`<span class="seg ${i < lit ? 'on' : ''} ${i >= SEGMENTS - 3 ? 'hot' : ''}"></span>`)}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-level-meter': PbLevelMeter
  }
}
