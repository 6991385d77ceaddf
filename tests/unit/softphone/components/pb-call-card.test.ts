/**
 * <pb-call-card>: the hang-up button's visible label (like the other controls), and the
 * reason a failed call shows in its status line (busy, declined, not found, unreachable,
 * no common codec), in words from the signaling clients' CallEnd.
 */
import { deepQuery, deepText, settle, useDom } from '../../../support/happy-dom.ts'
import { afterEach, describe, expect, test } from 'bun:test'
import type { PbCallCard } from '../../../../softphone/src/components/pb-call-card.ts'
import '../../../../softphone/src/components/pb-call-card.ts'
import { describeCallFailure } from '../../../../softphone/src/signaling/failure-text.ts'
import type { CallSnapshot } from '../../../../softphone/src/signaling/signaling-client.ts'
import { FakeSignalingClient } from '../fake-signaling-client.ts'

useDom()

let card: PbCallCard | undefined

async function mount(call: CallSnapshot, name = ''): Promise<PbCallCard> {
  card = document.createElement('pb-call-card')
  card.call = call
  card.name = name
  document.body.append(card)
  await settle()
  return card
}

afterEach(() => {
  card?.remove()
  card = undefined
  document.body.innerHTML = ''
})

const bob = { user: 'bob', uri: 'sip:bob@patchbay.test', displayName: 'Bob Baker' }

describe('<pb-call-card>', () => {
  test('the hang-up button has a visible label matching its accessible name', async () => {
    const el = await mount(FakeSignalingClient.snapshot({ id: 'c1', state: 'connected', connectedAt: 1, remote: bob }))
    const button = deepQuery<HTMLButtonElement>(el, 'button[part="hangup"]')!
    expect(button.getAttribute('aria-label')).toBe('Hang up')
    expect(deepText(deepQuery(el, '.hangup-row')!)).toContain('Hang up')
  })

  test('while ringing out the button reads "Cancel call"', async () => {
    const el = await mount(FakeSignalingClient.snapshot({ id: 'c1', state: 'ringing', direction: 'outgoing', remote: bob }))
    expect(deepQuery(el, 'button[aria-label="Cancel call"]')).not.toBeNull()
    expect(deepText(deepQuery(el, '.hangup-row')!)).toContain('Cancel call')
  })

  test.each([
    [486, 'Bob Baker is busy.'],
    [603, 'Bob Baker declined the call.'],
    [404, 'Bob Baker was not found. Check the name or number.'],
    [480, 'Bob Baker is not available right now.'],
    [504, 'Bob Baker could not be reached.'],
    [488, "Bob Baker's phone cannot handle this call's audio."],
    [606, "Bob Baker's phone cannot handle this call's audio."],
  ])('a call failed with %i says why in the status line', async (status, text) => {
    const end = describeCallFailure(status, 'Bob Baker')
    const el = await mount(FakeSignalingClient.snapshot({ id: 'c1', state: 'ended', direction: 'outgoing', remote: bob, end }), 'Bob Baker')
    const line = deepQuery<HTMLElement>(el, '[part="status"]')!
    expect(deepText(line).trim()).toBe(text)
    expect(line.getAttribute('role')).toBe('status')
    expect(line.classList.contains('failed')).toBe(true)
  })
})
