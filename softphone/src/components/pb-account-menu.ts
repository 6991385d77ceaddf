import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { initials } from './format.ts'
import { icon } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

/**
 * The signed-in identity in the header: a chip with the display name (when known) and the
 * address, which opens a small menu with "Settings" and "Sign out" (WAI-ARIA menu button:
 * Enter / Space / ArrowDown open it on the first item, ArrowUp / ArrowDown move, Escape and
 * a click elsewhere close it, Tab leaves it). On narrow screens only the avatar shows; its
 * accessible name still says who is signed in.
 *
 * @fires pb-sign-out - the user chose "Sign out"
 * @fires pb-open-settings - the user chose "Settings"
 * @csspart chip - the menu button
 * @csspart menu - the menu
 */
@customElement('pb-account-menu')
export class PbAccountMenu extends LitElement {
  static override styles = [sharedStyles, css`
    :host { position: relative; display: inline-flex; min-width: 0; }
    .chip {
      display: inline-flex; align-items: center; gap: 10px; min-width: 0; max-width: 320px; height: 44px;
      padding: 0 10px 0 6px; border-radius: 999px; border: 1px solid var(--pb-border); background: var(--pb-surface);
      color: var(--pb-text); text-align: left; transition: background-color .15s, border-color .15s;
    }
    .chip:hover, .chip[aria-expanded="true"] { background: var(--pb-surface-2); }
    .avatar {
      width: 32px; height: 32px; border-radius: 50%; display: grid; place-items: center; flex: none;
      background: var(--pb-accent-soft); color: var(--pb-accent-text); font-size: 13px; font-weight: 700;
    }
    .who { display: grid; min-width: 0; line-height: 1.2; }
    .name { font-size: 14px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .address { font-size: 12px; color: var(--pb-text-2); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .chevron { color: var(--pb-text-2); flex: none; }
    .menu {
      position: absolute; top: calc(100% + 6px); right: 0; z-index: 10; min-width: 220px; padding: 6px;
      background: var(--pb-surface); border: 1px solid var(--pb-border); border-radius: var(--pb-radius-sm); box-shadow: var(--pb-shadow);
    }
    .signed-in { padding: 8px 10px 10px; margin-bottom: 4px; border-bottom: 1px solid var(--pb-border); font-size: 13px; color: var(--pb-text-2); }
    .signed-in strong { display: block; color: var(--pb-text); font-size: 14px; overflow-wrap: anywhere; }
    [role="menuitem"] {
      display: flex; align-items: center; gap: 10px; width: 100%; min-height: 40px; padding: 0 10px; border: none;
      border-radius: var(--pb-radius-sm); background: transparent; font-weight: 600; font-size: 14px; text-align: left;
    }
    [role="menuitem"]:hover, [role="menuitem"]:focus-visible { background: var(--pb-surface-2); }
    [role="menuitem"].danger { color: var(--pb-red-text); }
    @media (max-width: 560px) {
      .chip { padding: 0 6px; gap: 4px; }
      .who, .chevron { display: none; }
      .menu { min-width: 200px; }
    }
  `]

  /** The account's display name, or '' when unknown. */
  @property() name = ''
  /** `user@domain` of the signed-in account. */
  @property() address = ''
  @state() private open = false
  private readonly onDocumentClick = (event: MouseEvent): void => {
    if (this.open && !event.composedPath().includes(this)) this.open = false
  }

  override connectedCallback(): void {
    super.connectedCallback()
    document.addEventListener('click', this.onDocumentClick)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    document.removeEventListener('click', this.onDocumentClick)
  }

  /** The accessible name of the chip: who is signed in. */
  get label(): string {
    return this.name ? `Account: ${this.name}, ${this.address}` : `Account: ${this.address}`
  }

  private items(): HTMLElement[] {
    return [...this.renderRoot.querySelectorAll<HTMLElement>('[role="menuitem"]')]
  }

  private chip(): HTMLElement | null {
    return this.renderRoot.querySelector<HTMLElement>('.chip')
  }

  private async show(focus: 'first' | 'last'): Promise<void> {
    this.open = true
    await this.updateComplete
    const items = this.items()
    ;(focus === 'first' ? items[0] : items[items.length - 1])?.focus()
  }

  private close(refocus: boolean): void {
    this.open = false
    if (refocus) this.chip()?.focus()
  }

  private onChipKey(event: KeyboardEvent): void {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      void this.show(event.key === 'ArrowDown' ? 'first' : 'last')
    }
  }

  private onMenuKey(event: KeyboardEvent): void {
    const items = this.items()
    const index = items.indexOf(event.composedPath()[0] as HTMLElement)
    if (event.key === 'Escape') {
      event.preventDefault()
      this.close(true)
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      const next = (index + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length
      items[next]?.focus()
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault()
      items[event.key === 'Home' ? 0 : items.length - 1]?.focus()
    } else if (event.key === 'Tab') {
      this.open = false
    }
  }

  private choose(type: 'pb-sign-out' | 'pb-open-settings'): void {
    this.close(type === 'pb-open-settings')
    this.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true }))
  }

  override render() {
    const shown = this.name || this.address
    return html`<button class="chip" part="chip" aria-haspopup="menu" aria-expanded=${this.open ? 'true' : 'false'}
        aria-controls="account-menu" aria-label=${this.label} title=${this.label.replace(/^Account: /, 'Signed in as ')}
        @click=${() => (this.open ? this.close(false) : void this.show('first'))} @keydown=${this.onChipKey}>
        <span class="avatar" aria-hidden="true">${initials(shown.replace(/@.*$/, ''))}</span>
        <span class="who" aria-hidden="true">
          <span class="name">${shown}</span>
          ${this.name ? html`<span class="address">${this.address}</span>` : nothing}
        </span>
        <span class="chevron" aria-hidden="true">${icon('chevron-down', 16)}</span>
      </button>
      ${this.open ? html`<div class="menu" part="menu" id="account-menu" role="menu" aria-label="Account" @keydown=${this.onMenuKey}>
        <div class="signed-in" role="presentation">Signed in as<strong>${this.name ? `${this.name} · ${this.address}` : this.address}</strong></div>
        <button role="menuitem" tabindex="-1" @click=${() => this.choose('pb-open-settings')}>${icon('settings', 16)}Settings</button>
        <button role="menuitem" tabindex="-1" class="danger" @click=${() => this.choose('pb-sign-out')}>${icon('log-out', 16)}Sign out</button>
      </div>` : nothing}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-account-menu': PbAccountMenu
  }
}
