import { describe, expect, test } from 'bun:test'
import { filterOfferCodecs } from '../../../../gateway/src/sip/trunks/codec-filter.ts'

const OFFER = [
  'v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
  'm=audio 4000 RTP/AVP 111 0 8 101 13', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtcp-fb:111 transport-cc', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15', 'a=rtpmap:13 CN/8000', 'a=sendrecv', '',
].join('\r\n')

describe('filterOfferCodecs (a trunk\'s allowed codecs)', () => {
  test('keeps the allowed voice codecs in the trunk\'s order, plus telephone-event and CN; their attributes only', () => {
    const out = filterOfferCodecs(OFFER, ['pcma', 'PCMU'])
    expect(out).toContain('m=audio 4000 RTP/AVP 8 0 101 13\r\n')
    expect(out).not.toContain('opus')
    expect(out).not.toContain('a=fmtp:111')
    expect(out).not.toContain('a=rtcp-fb:111')
    expect(out).toContain('a=fmtp:101 0-15')
    expect(out).toContain('a=sendrecv')
    expect(out.startsWith('v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n')).toBe(true)
  })

  test('static payload types without rtpmap are named by RFC 3551', () => {
    const sdp = 'v=0\nm=audio 4000 RTP/AVP 0 8 18\n'
    expect(filterOfferCodecs(sdp, ['G729'])).toBe('v=0\nm=audio 4000 RTP/AVP 18\n')
  })

  test('no allowed codec on the line: the line is left for the trunk to refuse; no list: unchanged', () => {
    expect(filterOfferCodecs(OFFER, ['G722'])).toBe(OFFER)
    expect(filterOfferCodecs(OFFER, [])).toBe(OFFER)
  })

  test('video and other m-lines are untouched', () => {
    const sdp = 'v=0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n'
    expect(filterOfferCodecs(sdp, ['PCMA'])).toBe('v=0\r\nm=audio 4000 RTP/AVP 8\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n')
  })
})
