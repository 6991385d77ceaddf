import { describe, expect, test } from 'bun:test'
import { newUuid, SettingsStore } from '../../../../softphone/src/storage/settings-store.ts'
import { MemoryStorage } from '../fake-signaling-client.ts'

describe('SettingsStore', () => {
  test('the password is stored only when "remember" is ticked', () => {
    const storage = new MemoryStorage()
    const store = new SettingsStore(storage)
    store.saveLogin({ server: '', user: 'alice', password: 'alice-demo', remember: false })
    expect(store.loadLogin()).toEqual({ server: '', user: 'alice', remember: false })
    expect(storage.getItem('pb.login')).not.toContain('alice-demo')
    store.saveLogin({ server: 'https://pbx', user: 'alice', password: 'alice-demo', remember: true })
    expect(store.loadLogin()).toEqual({ server: 'https://pbx', user: 'alice', remember: true, password: 'alice-demo' })
  })

  test('forgetPassword keeps server and user', () => {
    const store = new SettingsStore(new MemoryStorage())
    store.saveLogin({ server: 's', user: 'bob', password: 'pw', remember: true })
    store.forgetPassword()
    expect(store.loadLogin()).toEqual({ server: 's', user: 'bob', remember: false })
  })

  test('garbage in storage reads as defaults', () => {
    const storage = new MemoryStorage()
    storage.setItem('pb.login', '{not json')
    storage.setItem('pb.preferences', '[1,2]')
    const store = new SettingsStore(storage)
    expect(store.loadLogin()).toBeUndefined()
    expect(store.loadPreferences()).toEqual({ forceRelay: false })
  })

  test('preferences merge and drop empty strings', () => {
    const store = new SettingsStore(new MemoryStorage())
    store.savePreferences({ forceRelay: true, inputDeviceId: 'mic-2' })
    expect(store.savePreferences({ outputDeviceId: 'spk-1', displayName: '' })).toEqual({ forceRelay: true, inputDeviceId: 'mic-2', outputDeviceId: 'spk-1' })
  })

  test('the +sip.instance UUID is created once and kept (RFC 5626 §4.1)', () => {
    const storage = new MemoryStorage()
    const id = new SettingsStore(storage).instanceId()
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new SettingsStore(storage).instanceId()).toBe(id)
    storage.setItem('pb.instance-id', 'not-a-uuid')
    expect(new SettingsStore(storage).instanceId()).not.toBe('not-a-uuid')
  })

  test('newUuid sets the version and variant bits (RFC 4122 §4.4)', () => {
    expect(newUuid((b) => b.fill(0xff))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff')
    expect(newUuid((b) => b.fill(0))).toBe('00000000-0000-4000-8000-000000000000')
  })
})
