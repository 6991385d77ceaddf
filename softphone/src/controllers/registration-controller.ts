/**
 * Bridges the SignalingClient's registration state into a Lit host, and owns sign-in /
 * sign-out and what is remembered about the login (SettingsStore).
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { RegistrationState, SignalingClient } from '../signaling/signaling-client.ts'
import type { SettingsStore, StoredLogin } from '../storage/settings-store.ts'

export interface SignInRequest {
  readonly server: string
  readonly user: string
  readonly password: string
  readonly remember: boolean
}

export class RegistrationController implements ReactiveController {
  state: RegistrationState
  /** What the sign-in form starts with (server and user always; password only if remembered). */
  login: StoredLogin | undefined
  /** Registered at least once since signing in: show the phone, not the sign-in form. */
  signedIn = false
  /** Signing in: waiting for the first successful registration. */
  pending = false
  /** The AOR of the last successful registration (`sip:alice@patchbay.test`). */
  lastAor: string | undefined
  /** The account's display name as the server reported it at registration, or ''. */
  accountName = ''
  private unsubscribe: (() => void) | undefined

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: SignalingClient,
    private readonly settings: SettingsStore,
  ) {
    this.state = client.registration
    this.login = settings.loadLogin()
    host.addController(this)
  }

  hostConnected(): void {
    this.unsubscribe = this.client.on('registration', (state) => {
      this.state = state
      if (state.status === 'registered') {
        this.lastAor = state.aor
        this.accountName = state.displayName ?? ''
        this.signedIn = true
        this.pending = false
      }
      // A permanent failure (wrong password, unknown user) sends the user back to the form.
      if (state.status === 'failed' || state.status === 'signed-out') {
        this.signedIn = false
        this.pending = false
      }
      if (state.status === 'failed' && (state.reason === 'wrong-password' || state.reason === 'unknown-user')) {
        this.settings.forgetPassword()
        this.login = this.settings.loadLogin()
      }
      this.host.requestUpdate()
    })
  }

  hostDisconnected(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  /** Signs in automatically when the password was remembered. Returns true if it started. */
  autoSignIn(): boolean {
    const login = this.login
    if (!login?.remember || !login.password) return false
    void this.signIn({ server: login.server, user: login.user, password: login.password, remember: true })
    return true
  }

  async signIn(request: SignInRequest): Promise<void> {
    this.settings.saveLogin(request)
    this.login = this.settings.loadLogin()
    this.pending = true
    this.host.requestUpdate()
    const displayName = this.settings.loadPreferences().displayName
    await this.client.register({
      server: request.server,
      user: request.user,
      password: request.password,
      ...(displayName !== undefined ? { displayName } : {}),
    })
  }

  async signOut(): Promise<void> {
    this.settings.forgetPassword()
    this.login = this.settings.loadLogin()
    this.signedIn = false
    this.pending = false
    this.host.requestUpdate()
    await this.client.unregister()
  }
}
