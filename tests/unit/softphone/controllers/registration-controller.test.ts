import { describe, expect, test } from 'bun:test'
import { RegistrationController } from '../../../../softphone/src/controllers/registration-controller.ts'
import { SettingsStore } from '../../../../softphone/src/storage/settings-store.ts'
import { FakeHost } from '../fake-host.ts'
import { FakeSignalingClient, MemoryStorage } from '../fake-signaling-client.ts'

function setup(storage = new MemoryStorage()) {
  const client = new FakeSignalingClient()
  const host = new FakeHost()
  const settings = new SettingsStore(storage)
  const ctl = new RegistrationController(host, client, settings)
  host.connect()
  return { client, host, settings, ctl, storage }
}

describe('RegistrationController', () => {
  test('sign in: pending until the first registration, then signed in', async () => {
    const { client, ctl } = setup()
    await ctl.signIn({ server: '', user: 'alice', password: 'pw', remember: false })
    expect(client.lastCredentials).toMatchObject({ user: 'alice', password: 'pw', server: '' })
    expect(ctl.pending).toBe(true)
    expect(ctl.signedIn).toBe(false)
    client.setRegistration({ status: 'registered', aor: 'sip:alice@d', since: 1 })
    expect(ctl.signedIn).toBe(true)
    expect(ctl.pending).toBe(false)
    // A later network loss keeps the phone on screen.
    client.setRegistration({ status: 'reconnecting', reason: 'unreachable', message: 'Server unreachable.', attempt: 1, retryAt: 5 })
    expect(ctl.signedIn).toBe(true)
  })

  test('a wrong password returns to the form and forgets a remembered password', async () => {
    const { client, ctl, settings } = setup()
    await ctl.signIn({ server: '', user: 'alice', password: 'bad', remember: true })
    expect(settings.loadLogin()?.password).toBe('bad')
    client.setRegistration({ status: 'failed', reason: 'wrong-password', message: 'Wrong password.', statusCode: 401 })
    expect(ctl.signedIn).toBe(false)
    expect(ctl.pending).toBe(false)
    expect(settings.loadLogin()).toEqual({ server: '', user: 'alice', remember: false })
  })

  test('auto sign-in only with a remembered password', () => {
    const storage = new MemoryStorage()
    new SettingsStore(storage).saveLogin({ server: '', user: 'bob', password: 'pw', remember: false })
    expect(setup(storage).ctl.autoSignIn()).toBe(false)
    new SettingsStore(storage).saveLogin({ server: '', user: 'bob', password: 'pw', remember: true })
    const { ctl, client } = setup(storage)
    expect(ctl.autoSignIn()).toBe(true)
    expect(client.log).toEqual(['register bob'])
  })

  test('sign out unregisters and keeps the user name', async () => {
    const { client, ctl, settings } = setup()
    await ctl.signIn({ server: '', user: 'carol', password: 'pw', remember: true })
    client.setRegistration({ status: 'registered', aor: 'sip:carol@d', since: 1 })
    await ctl.signOut()
    expect(client.log).toContain('unregister')
    expect(ctl.signedIn).toBe(false)
    expect(settings.loadLogin()).toEqual({ server: '', user: 'carol', remember: false })
  })
})
