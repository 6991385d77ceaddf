import { deepQuery, deepQueryAll, settle, useDom } from '../../../support/happy-dom.ts'
import { afterEach, expect, test } from 'bun:test'
import type { PbDialpad } from '../../../../softphone/src/components/pb-dialpad.ts'
import '../../../../softphone/src/components/pb-dialpad.ts'

useDom()

let pad: PbDialpad

afterEach(() => pad?.remove())

async function mount(): Promise<{ digits: string[] }> {
  pad = document.createElement('pb-dialpad')
  document.body.append(pad)
  const digits: string[] = []
  pad.addEventListener('pb-digit', (e) => digits.push((e as CustomEvent<{ digit: string }>).detail.digit))
  await settle()
  return { digits }
}

test('twelve labelled keys in a group with a single tab stop', async () => {
  await mount()
  const keys = deepQueryAll<HTMLButtonElement>(pad, 'button.key')
  expect(keys.map((k) => k.getAttribute('aria-label'))).toEqual([
    '1', '2 ABC', '3 DEF', '4 GHI', '5 JKL', '6 MNO', '7 PQRS', '8 TUV', '9 WXYZ', 'star', '0 (hold for +)', 'pound',
  ])
  expect(keys.filter((k) => k.tabIndex === 0).length).toBe(1)
  expect(deepQuery(pad, '[role="group"]')?.getAttribute('aria-label')).toBe('Dial pad')
})

test('clicks and typed keys fire pb-digit; arrows move the tab stop', async () => {
  const { digits } = await mount()
  deepQueryAll<HTMLButtonElement>(pad, 'button.key')[4]!.click()
  const group = deepQuery<HTMLElement>(pad, '[role="group"]')!
  group.dispatchEvent(new KeyboardEvent('keydown', { key: '#', bubbles: true }))
  group.dispatchEvent(new KeyboardEvent('keydown', { key: 'x', bubbles: true }))
  expect(digits).toEqual(['5', '#'])
  group.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }))
  await settle()
  const keys = deepQueryAll<HTMLButtonElement>(pad, 'button.key')
  expect(keys.findIndex((k) => k.tabIndex === 0)).toBe(7) // from 5 down to 8
  group.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }))
  group.dispatchEvent(new KeyboardEvent('keydown', { key: 'End', bubbles: true }))
  await settle()
  expect(deepQueryAll<HTMLButtonElement>(pad, 'button.key').findIndex((k) => k.tabIndex === 0)).toBe(11)
})
