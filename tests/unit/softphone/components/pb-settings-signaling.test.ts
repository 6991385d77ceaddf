import { deepQuery, deepText, settle, useDom } from '../../../support/happy-dom.ts'
import { afterEach, expect, test } from 'bun:test'
import { PbSettings, type SettingsChange } from '../../../../softphone/src/components/pb-settings.ts'
// All components, while the DOM is installed: other component test files of the same run
// reuse these module instances (happy-dom.ts installs the DOM once, at its first import).
import '../../../../softphone/src/components/pb-app.ts'

useDom()

let sheet: PbSettings | undefined

afterEach(() => {
  sheet?.remove()
  PbSettings.signalingInfo = { active: 'sip', stored: () => 'sip' }
})

test('Settings > Signaling shows the stored choice and the mode in use, and fires the change', async () => {
  PbSettings.signalingInfo = { active: 'sip', stored: () => 'json' }
  sheet = document.createElement('pb-settings')
  const changes: SettingsChange[] = []
  sheet.addEventListener('pb-settings-change', (e) => changes.push((e as CustomEvent<SettingsChange>).detail))
  document.body.append(sheet)
  await settle()
  const select = deepQuery<HTMLSelectElement>(sheet, 'select#signaling')!
  expect(select).not.toBeNull()
  expect(select.value).toBe('json')
  expect(deepText(sheet)).toMatch(/In use now: SIP over WebSocket/)
  expect(deepText(sheet)).toMatch(/takes effect at the next sign-in .* or when you reload the page/)
  select.value = 'sip'
  select.dispatchEvent(new Event('change', { bubbles: true }))
  expect(changes).toEqual([{ signaling: 'sip' }])
})
