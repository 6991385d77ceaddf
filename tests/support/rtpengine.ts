/**
 * A real rtpengine daemon (Debian `rtpengine-daemon` 10.5, userspace) on loopback for tests,
 * started with the flags known to work here (../../../shared/testing-with-real-peers.md).
 */
import { PeerProcess, requireBinary } from './processes.ts'
import { freePortRange, freeUdpPort } from './ports.ts'

export interface RunningRtpengine {
  ngPort: number
  process: PeerProcess
  stop(): Promise<void>
}

/** Starts rtpengine with its ng control socket on 127.0.0.1 and a private media port range. */
export async function startRtpengine(): Promise<RunningRtpengine> {
  const bin = requireBinary('rtpengine', 'rtpengine-daemon')
  const ngPort = await freeUdpPort()
  const portMin = await freePortRange(64)
  const proc = new PeerProcess('rtpengine', [
    bin, '--config-file=none', '--foreground', '--log-stderr', '--table=-1', '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMin + 63}`,
    '--num-threads=2', '--dtls-passive', '--log-level=6',
  ])
  await proc.waitFor('Startup complete', 10_000).catch(async (e) => {
    await proc.kill()
    throw e
  })
  await Bun.sleep(200)
  return { ngPort, process: proc, stop: () => proc.kill() }
}
