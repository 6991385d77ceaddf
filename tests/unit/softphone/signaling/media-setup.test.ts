/**
 * MediaSetup.prepareIce: a fresh ICE server list (younger than half its TTL) is used as it is,
 * so placing a call costs no HTTP round trip; an old or missing one is fetched first.
 */
import { expect, test } from 'bun:test'
import { MediaSetup } from '../../../../softphone/src/signaling/media-setup.ts'

function setup(ttlSeconds: number) {
  const fetched: string[] = []
  const media = new MediaSetup({
    fetch: async (input) => {
      fetched.push(input)
      return new Response(JSON.stringify({ iceServers: [{ urls: ['stun:127.0.0.1:3478'] }], ttlSeconds }), { headers: { 'content-type': 'application/json' } })
    },
    getUserMedia: async () => { throw new Error('not used') },
    preferences: () => ({ forceRelay: false }) as never,
    iceServerAccount: () => ({ origin: 'http://127.0.0.1:8080', path: '/api/ice-servers', user: 'alice', password: 'pw' }),
  })
  return { media, fetched }
}

test('a list fetched at sign-in serves the next calls without another fetch', async () => {
  const { media, fetched } = setup(86_400)
  await media.refreshIceServers()
  expect(await media.prepareIce()).toEqual({ ok: true })
  expect(await media.prepareIce()).toEqual({ ok: true })
  expect(fetched).toHaveLength(1)
  expect(media.rtcConfiguration().iceServers).toEqual([{ urls: ['stun:127.0.0.1:3478'] }])
})

test('no list yet, or one past half its TTL: fetched before the call', async () => {
  const { media, fetched } = setup(86_400)
  await media.prepareIce()
  expect(fetched).toHaveLength(1)
  expect(media.iceListFresh(Date.now() + 43_199_000)).toBe(true)
  expect(media.iceListFresh(Date.now() + 43_201_000)).toBe(false)
})
