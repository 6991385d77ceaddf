/**
 * The media driver the configuration asks for (`media.driver`): the embedded werift engine,
 * rtpengine daemons over the ng protocol, or none. Builds the driver only; neither driver
 * binds a socket before its first session.
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { MediaDriver } from './media-driver.ts'
import { RtpengineDriver } from './rtpengine/rtpengine-driver.ts'
import { EmbeddedDriver } from './embedded/embedded-driver.ts'

/** A TURN server entry for the embedded driver (`RTCIceServer` shape). */
export interface MediaTurnServer {
  urls: string | string[]
  username?: string
  credential?: string
}

/**
 * @param turnServers TURN servers with the media engine's own credentials (ice/ice-servers.ts
 *   `mediaEngineTurnServers`); used by the embedded driver only
 * @returns null for `media.driver: none`
 */
export function createMediaDriver(config: GatewayConfig, turnServers: MediaTurnServer[]): MediaDriver | null {
  const m = config.media
  switch (m.driver) {
    case 'none':
      return null
    case 'rtpengine':
      return new RtpengineDriver({ instances: m.rtpengine, publicAddress: config.sip.publicAddress })
    case 'embedded':
      // RTP sockets and ICE candidates bind to media.bindAddress (default sip.host; a
      // wildcard listen address means loopback for media).
      return new EmbeddedDriver({
        bindAddress: m.bindAddress ?? (config.sip.host === '0.0.0.0' ? '127.0.0.1' : config.sip.host),
        publicAddress: config.sip.publicAddress,
        iceServers: turnServers,
        rtpPortMin: m.rtpPortMin,
        rtpPortMax: m.rtpPortMax,
      })
  }
}
