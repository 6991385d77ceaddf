import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { CallController, type CallAudio } from '../controllers/call-controller.ts'
import { HistoryController } from '../controllers/history-controller.ts'
import { MediaDevicesController, type OutputSink } from '../controllers/media-devices-controller.ts'
import { MessagesController } from '../controllers/messages-controller.ts'
import { RegistrationController } from '../controllers/registration-controller.ts'
import type { CallSnapshot, SignalingClient } from '../signaling/signaling-client.ts'
import type { CallHistoryStore } from '../storage/call-history-store.ts'
import type { ConversationStore } from '../storage/conversation-store.ts'
import type { SettingsStore } from '../storage/settings-store.ts'
import type { Timers } from '../util/timers.ts'
import { formatDuration, partyName } from './format.ts'
import { icon, logo } from './icons.ts'
import type { DialSuggestion, PbDialer } from './pb-dialer.ts'
import type { SignInDetail } from './pb-login.ts'
import type { SettingsChange } from './pb-settings.ts'
import { describeRegistration } from './pb-status.ts'
import { sharedStyles } from './shared-styles.ts'
import './pb-account-menu.ts'
import './pb-call-card.ts'
import './pb-conversations.ts'
import './pb-dialer.ts'
import './pb-history.ts'
import './pb-incoming-call.ts'
import './pb-login.ts'
import './pb-quality-chart.ts'
import './pb-settings.ts'
import './pb-status.ts'

/** Everything pb-app needs from the outside (main.ts builds the real ones; tests pass fakes). */
export interface AppServices {
  readonly client: SignalingClient
  readonly settings: SettingsStore
  readonly history: CallHistoryStore
  /** Text conversations, one per contact. */
  readonly conversations: ConversationStore
  readonly timers: Timers
  readonly audio: CallAudio
  /** Speaker selection targets (far-end audio, ringtone). */
  readonly sinks: readonly OutputSink[]
  readonly devices: Pick<MediaDevices, 'enumerateDevices' | 'addEventListener' | 'removeEventListener'> | undefined
  readonly canSelectOutput: boolean
  /** `https://host:port` of this page: the default server. */
  readonly pageOrigin: string
}

/**
 * The Patchbay softphone: sign-in, registration status, dialer, calls (incoming, waiting,
 * active, on hold), call history, text messages (a tab beside the history, with an unread
 * badge) and settings. Owns the ReactiveControllers that bridge the
 * SignalingClient into the view; child elements only render and fire events.
 *
 * Keyboard: when no field has focus, typing 0–9, *, # goes to the dial field (or, in a call,
 * sends the tones); Enter dials.
 *
 * @csspart topbar - the header bar
 * @csspart phone - the main column (dialer or call)
 * @csspart side - the side column (recent calls and messages)
 */
@customElement('pb-app')
export class PbApp extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; min-height: 100vh; min-height: 100dvh; background: var(--pb-bg); }
    .topbar {
      position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px;
      height: 64px; padding: 0 24px; background: color-mix(in srgb, var(--pb-surface) 88%, transparent);
      backdrop-filter: saturate(1.4) blur(10px); border-bottom: 1px solid var(--pb-border);
    }
    .brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 17px; letter-spacing: -.01em; }
    .spacer { flex: 1; }
    pb-account-menu { min-width: 0; }
    .settings-btn { padding: 0 12px; color: var(--pb-text-2); }
    main { padding: 28px 24px 48px; }
    .layout { display: grid; grid-template-columns: minmax(0, 420px) minmax(0, 520px); gap: 24px; justify-content: center; align-items: start; }
    .phone, .side { display: grid; gap: 16px; }
    .quality-card { padding: 18px 20px 16px; }
    .dialer-card { padding: 24px 24px 20px; }
    .notice {
      display: flex; align-items: flex-start; gap: 10px; padding: 12px 12px 12px 14px; border-radius: var(--pb-radius-sm);
      font-size: 14px; font-weight: 500; background: var(--pb-surface); border: 1px solid var(--pb-border); box-shadow: var(--pb-shadow);
    }
    .notice.error { background: var(--pb-red-soft); border-color: color-mix(in srgb, var(--pb-red) 25%, transparent); color: var(--pb-red-text); }
    .notice.info { background: var(--pb-accent-soft); border-color: color-mix(in srgb, var(--pb-accent) 20%, transparent); color: var(--pb-accent-text); }
    .notice span { flex: 1; padding-top: 1px; }
    .notice .icon-btn { width: 28px; height: 28px; color: inherit; margin: -4px -4px -4px 0; }
    .held { display: flex; align-items: center; gap: 12px; padding: 12px 14px 12px 16px; }
    .held .pause { width: 36px; height: 36px; border-radius: 50%; display: grid; place-items: center; background: var(--pb-amber-soft); color: var(--pb-amber-text); flex: none; }
    .held .text { flex: 1; min-width: 0; }
    .held .title { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .held small { color: var(--pb-text-2); }
    .login-wrap { min-height: calc(100vh - 96px); display: grid; place-items: center; }
    .tabs { display: flex; gap: 4px; padding: 4px; }
    .tab {
      flex: 1; display: inline-flex; align-items: center; justify-content: center; gap: 8px; min-height: 40px;
      border: none; border-radius: var(--pb-radius-sm); background: transparent; color: var(--pb-text-2); font-weight: 600; font-size: 14px;
    }
    .tab:hover { background: var(--pb-surface-2); color: var(--pb-text); }
    .tab[aria-selected="true"] { background: var(--pb-accent-soft); color: var(--pb-accent-text); }
    .tab .badge {
      min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; display: inline-grid; place-items: center;
      background: var(--pb-accent); color: #fff; font-size: 12px; font-weight: 700;
    }
    .offline {
      display: flex; align-items: center; gap: 10px; padding: 10px 14px; border-radius: var(--pb-radius-sm);
      background: var(--pb-amber-soft); color: var(--pb-amber-text); font-size: 14px; font-weight: 500;
    }
    @media (max-width: 960px) {
      .layout { grid-template-columns: minmax(0, 520px); }
    }
    @media (max-width: 560px) {
      .topbar { padding: 0 12px; gap: 8px; height: 56px; }
      .brand span { display: none; }
      .settings-btn { width: 40px; padding: 0; }
      .settings-btn .label { display: none; }
      main { padding: 12px 12px 32px; }
      .layout { gap: 12px; }
      .phone, .side { gap: 12px; }
      .dialer-card { padding: 20px 16px 16px; }
      .login-wrap { min-height: auto; padding-top: 8px; }
    }
  `]

  /** Must be set before the element is connected. */
  @property({ attribute: false }) services!: AppServices
  @state() private settingsOpen = false
  /** Which panel the side column shows. */
  @state() private sideTab: 'calls' | 'messages' = 'calls'
  /** Why the last typed address for a new conversation was refused. */
  @state() private messageError = ''
  @query('pb-dialer') private dialer?: PbDialer

  registration!: RegistrationController
  calls!: CallController
  historyCtl!: HistoryController
  messages!: MessagesController
  devices!: MediaDevicesController
  private started = false
  private readonly onKey = (event: KeyboardEvent): void => this.handleShortcut(event)

  override connectedCallback(): void {
    if (!this.started) {
      const s = this.services
      this.registration = new RegistrationController(this, s.client, s.settings)
      this.calls = new CallController(this, s.client, s.timers, s.audio)
      this.historyCtl = new HistoryController(this, s.client, s.history)
      this.messages = new MessagesController(this, s.client, s.conversations)
      this.devices = new MediaDevicesController(this, s.client, s.settings, s.sinks, s.devices, s.canSelectOutput)
      this.started = true
      const prefs = s.settings.loadPreferences()
      void s.client.updatePreferences({
        forceRelay: prefs.forceRelay,
        ...(prefs.inputDeviceId !== undefined ? { inputDeviceId: prefs.inputDeviceId } : {}),
        ...(prefs.displayName !== undefined ? { displayName: prefs.displayName } : {}),
      })
    }
    super.connectedCallback()
    document.addEventListener('keydown', this.onKey)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    document.removeEventListener('keydown', this.onKey)
  }

  override firstUpdated(): void {
    this.registration.autoSignIn()
  }

  override updated(): void {
    document.title = this.windowTitle()
  }

  private windowTitle(): string {
    const incoming = this.calls.incoming
    if (incoming) return `Incoming call from ${this.nameOf(incoming)} — Patchbay`
    const active = this.calls.active
    if (active?.state === 'connected') return `${formatDuration(this.calls.durationOf(active))} · ${this.nameOf(active)} — Patchbay`
    if (active) return `Calling ${this.nameOf(active)}… — Patchbay`
    const unread = this.messages.unreadTotal
    return unread > 0 ? `(${unread}) Patchbay` : 'Patchbay'
  }

  private nameOf(call: CallSnapshot): string {
    return partyName(call.remote.displayName || this.historyCtl.displayNameFor(call.remote.user), call.remote.user)
  }

  private isTyping(event: KeyboardEvent): boolean {
    const path = event.composedPath()
    return path.some((el) => el instanceof HTMLElement && (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' || el.tagName === 'PB-DIALPAD' || el.isContentEditable))
  }

  private handleShortcut(event: KeyboardEvent): void {
    if (!this.registration.signedIn || this.settingsOpen || event.ctrlKey || event.metaKey || event.altKey) return
    if (this.isTyping(event)) return
    if (!/^[0-9*#+]$/.test(event.key)) return
    const active = this.calls.active
    if (active?.state === 'connected') {
      event.preventDefault()
      this.calls.sendDtmf(active.id, event.key)
    } else if (!active && this.dialer) {
      event.preventDefault()
      this.dialer.value += event.key
      this.dialer.focus()
    }
  }

  // ---- event handlers from child elements

  private onSignIn(event: CustomEvent<SignInDetail>): void {
    const d = event.detail
    void this.registration.signIn({ server: d.server, user: d.user, password: d.password, remember: d.remember })
  }

  private async onDial(event: CustomEvent<{ target: string }>): Promise<void> {
    const ok = await this.calls.dial(event.detail.target)
    if (ok && this.dialer) this.dialer.value = ''
  }

  private onRedial(event: CustomEvent<{ target: string }>): void {
    this.calls.clearEnded()
    void this.calls.dial(event.detail.target)
  }

  private showTab(tab: 'calls' | 'messages'): void {
    this.sideTab = tab
    this.messages.setVisible(tab === 'messages')
  }

  /** Opens the conversation with a typed or listed address, on the Messages tab. */
  private openConversation(target: string): void {
    const opened = this.messages.openTarget(target)
    this.messageError = opened.ok ? '' : opened.message
    this.showTab('messages')
    if (opened.ok) void this.updateComplete.then(() => this.renderRoot.querySelector('pb-conversations')?.focus())
  }

  private onConversationCall(event: CustomEvent<{ target: string }>): void {
    this.calls.clearEnded()
    void this.calls.dial(event.detail.target)
  }

  private onSettingsChange(event: CustomEvent<SettingsChange>): void {
    const d = event.detail
    const s = this.services
    if (d.inputDeviceId !== undefined) void this.devices.setInput(d.inputDeviceId)
    if (d.outputDeviceId !== undefined) void this.devices.setOutput(d.outputDeviceId)
    if (d.forceRelay !== undefined) {
      s.settings.savePreferences({ forceRelay: d.forceRelay })
      void s.client.updatePreferences({ forceRelay: d.forceRelay })
    }
    if (d.displayName !== undefined) {
      s.settings.savePreferences({ displayName: d.displayName || undefined })
      void s.client.updatePreferences({ displayName: d.displayName })
    }
    this.requestUpdate()
  }

  private async onSignOut(): Promise<void> {
    this.settingsOpen = false
    await this.registration.signOut()
  }

  private openSettings(): void {
    void this.devices.refresh()
    this.settingsOpen = true
  }

  // ---- rendering

  private renderLogin() {
    const reg = this.registration
    const state = reg.state
    const login = reg.login
    let error = ''
    if (state.status === 'failed') error = state.message
    else if (reg.pending && state.status === 'reconnecting') {
      const { detail } = describeRegistration(state, Date.now())
      error = `${state.message} ${detail}…`.replace('……', '…')
    }
    const busy = reg.pending && (state.status === 'connecting')
    return html`<main class="login-wrap">
      <pb-login .server=${login?.server ?? ''} .user=${login?.user ?? ''} .password=${login?.password ?? ''}
        .remember=${login?.remember ?? false} .error=${error} ?busy=${busy} .defaultServer=${this.services.pageOrigin}
        @pb-sign-in=${this.onSignIn}></pb-login>
    </main>`
  }

  private renderPhoneColumn() {
    const c = this.calls
    const client = this.services.client
    const incoming = c.incoming
    const active = c.active
    const held = c.held
    const registered = this.registration.state.status === 'registered'
    const suggestions: DialSuggestion[] = []
    for (const e of this.historyCtl.entries) {
      if (!suggestions.some((s) => s.user === e.user)) suggestions.push({ user: e.user, displayName: e.displayName })
      if (suggestions.length >= 12) break
    }
    return html`<section class="phone" part="phone" aria-label="Phone">
      ${c.notice ? html`<div class="notice ${c.notice.kind}" role=${c.notice.kind === 'error' ? 'alert' : 'status'}>
        ${icon(c.notice.kind === 'error' ? 'alert' : 'info', 18)}<span>${c.notice.text}</span>
        <button class="icon-btn" aria-label="Dismiss message" @click=${() => c.dismissNotice()}>${icon('x', 16)}</button>
      </div>` : nothing}
      ${!registered && this.registration.signedIn ? html`<div class="offline" role="status">${icon('alert', 18)}
        <span>You are offline: calls cannot be made or received until the connection is back.</span></div>` : nothing}
      ${incoming ? html`<pb-incoming-call .call=${incoming} .name=${this.nameOf(incoming)} ?waiting=${c.waiting}
          .error=${c.answerError?.callId === incoming.id ? c.answerError.message : ''}
          @pb-answer=${(e: CustomEvent<{ callId: string }>) => void c.answer(e.detail.callId)}
          @pb-decline=${(e: CustomEvent<{ callId: string }>) => void c.decline(e.detail.callId)}></pb-incoming-call>` : nothing}
      ${held.map((h) => html`<div class="card held" role="group" aria-label=${`${this.nameOf(h)}, on hold`}>
        <span class="pause" aria-hidden="true">${icon('pause', 16)}</span>
        <div class="text"><div class="title">${this.nameOf(h)}</div><small class="tabular">On hold · ${formatDuration(c.durationOf(h))}</small></div>
        <button class="btn" @click=${() => void c.swap()} aria-label=${`Swap to ${this.nameOf(h)}`}>${icon('play', 16)}Swap</button>
        <button class="icon-btn" @click=${() => void c.hangup(h.id)} aria-label=${`Hang up ${this.nameOf(h)}`}>${icon('phone-off', 18)}</button>
      </div>`)}
      ${active ? html`<pb-call-card .call=${active} .name=${this.nameOf(active)} .duration=${c.durationOf(active)}
          .localStream=${client.getLocalStream(active.id)} .remoteStream=${client.getRemoteStream(active.id)}
          @pb-hangup=${(e: CustomEvent<{ callId: string }>) => void c.hangup(e.detail.callId)}
          @pb-mute=${(e: CustomEvent<{ callId: string }>) => c.toggleMute(e.detail.callId)}
          @pb-hold=${(e: CustomEvent<{ callId: string }>) => void c.toggleHold(e.detail.callId)}
          @pb-dtmf=${(e: CustomEvent<{ callId: string; digit: string }>) => c.sendDtmf(e.detail.callId, e.detail.digit)}
          @pb-transfer=${(e: CustomEvent<{ callId: string; target: string }>) => void c.transfer(e.detail.callId, e.detail.target)}
        ></pb-call-card>`
        : c.ended && !incoming ? html`<pb-call-card .call=${c.ended} .name=${this.nameOf(c.ended)}
            @pb-dismiss=${() => { c.clearEnded(); this.requestUpdate() }} @pb-redial=${this.onRedial}></pb-call-card>`
        : incoming ? nothing
        : html`<div class="card dialer-card">
            <pb-dialer ?disabled=${!registered} ?busy=${c.dialing} .suggestions=${suggestions} @pb-dial=${this.onDial}></pb-dialer>
          </div>`}
    </section>`
  }

  private renderSideTabs() {
    const unread = this.messages.unreadTotal
    const tab = (id: 'calls' | 'messages', label: string, iconName: 'clock' | 'message', extra: unknown = nothing) => html`<button
        class="tab" role="tab" id=${`tab-${id}`} aria-controls=${`panel-${id}`} aria-selected=${this.sideTab === id ? 'true' : 'false'}
        tabindex=${this.sideTab === id ? 0 : -1} @click=${() => this.showTab(id)}
        @keydown=${(e: KeyboardEvent) => {
          if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return
          const next = id === 'calls' ? 'messages' : 'calls'
          this.showTab(next)
          void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${next}`)?.focus())
        }}>${icon(iconName, 16)}${label}${extra}</button>`
    return html`<div class="card tabs" role="tablist" aria-label="Recent calls and messages">
      ${tab('calls', 'Recent calls', 'clock')}
      ${tab('messages', 'Messages', 'message', unread > 0 ? html`<span class="badge">${unread}<span class="sr-only"> unread</span></span>` : nothing)}
    </div>`
  }

  override render() {
    if (!this.started) return nothing
    const reg = this.registration
    if (!reg.signedIn) return this.renderLogin()
    const login = reg.login
    const domain = reg.lastAor?.replace(/^sip:[^@]*@/, '') ?? ''
    const account = login ? `${login.user}${domain ? `@${domain}` : ''}` : ''
    const prefs = this.services.settings.loadPreferences()
    const accountName = reg.accountName || prefs.displayName || ''
    const c = this.calls
    return html`
      <header class="topbar" part="topbar">
        <div class="brand">${logo(28)}<span>Patchbay</span></div>
        <pb-status .state=${reg.state} compact @pb-retry=${() => this.services.client.reconnectNow()}></pb-status>
        <div class="spacer"></div>
        <pb-account-menu .name=${accountName} .address=${account}
          @pb-sign-out=${this.onSignOut} @pb-open-settings=${this.openSettings}></pb-account-menu>
        <button class="btn ghost settings-btn" aria-label="Settings" title="Settings" aria-haspopup="dialog" @click=${this.openSettings}>
          ${icon('settings', 18)}<span class="label" aria-hidden="true">Settings</span></button>
      </header>
      <main>
        <div class="layout">
          ${this.renderPhoneColumn()}
          <aside class="side" part="side" aria-label="Call details and recent calls">
            ${c.active?.state === 'connected' ? html`<div class="card quality-card">
              <pb-quality-chart .peerConnection=${this.services.client.getPeerConnection(c.active.id)} .timers=${this.services.timers}></pb-quality-chart>
            </div>` : nothing}
            ${this.renderSideTabs()}
            ${this.sideTab === 'calls'
              ? html`<pb-history class="card" id="panel-calls" role="tabpanel" aria-labelledby="tab-calls" .entries=${this.historyCtl.entries}
                  ?redial-disabled=${reg.state.status !== 'registered' || c.calls.length >= 2}
                  @pb-redial=${this.onRedial} @pb-message=${(e: CustomEvent<{ target: string }>) => this.openConversation(e.detail.target)}
                  @pb-clear-history=${() => this.historyCtl.clear()}></pb-history>`
              : html`<pb-conversations class="card" id="panel-messages" role="tabpanel" aria-labelledby="tab-messages"
                  .conversations=${this.messages.conversations} .active=${this.messages.active} .error=${this.messageError}
                  ?disabled=${reg.state.status !== 'registered'} ?call-disabled=${reg.state.status !== 'registered' || c.calls.length >= 2}
                  @pb-new-conversation=${(e: CustomEvent<{ target: string }>) => this.openConversation(e.detail.target)}
                  @pb-open-conversation=${(e: CustomEvent<{ key: string }>) => { this.messageError = ''; this.messages.open(e.detail.key) }}
                  @pb-close-conversation=${() => this.messages.close()}
                  @pb-send-message=${(e: CustomEvent<{ text: string }>) => void this.messages.send(e.detail.text)}
                  @pb-delete-conversation=${(e: CustomEvent<{ key: string }>) => this.messages.remove(e.detail.key)}
                  @pb-call=${this.onConversationCall}></pb-conversations>`}
          </aside>
        </div>
      </main>
      ${this.settingsOpen ? html`<pb-settings
          .inputs=${this.devices.inputs} .outputs=${this.devices.outputs}
          .inputId=${this.devices.inputId ?? ''} .outputId=${this.devices.outputId ?? ''}
          .canSelectOutput=${this.devices.canSelectOutput} .forceRelay=${prefs.forceRelay}
          .displayName=${prefs.displayName ?? ''} .account=${account}
          @pb-settings-change=${this.onSettingsChange} @pb-sign-out=${this.onSignOut}
          @pb-close=${() => { this.settingsOpen = false }}></pb-settings>` : nothing}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-app': PbApp
  }
}
