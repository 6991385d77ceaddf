/**
 * baresip (Debian `baresip-core`) as a real legacy desk phone for tests: G.711 only, no ICE,
 * registered over UDP, auto-answer, a 48 kHz stereo sine (`ausine`) as its microphone, and
 * the `sndfile` module recording what it hears to `dump-*-dec.wav` (8 kHz mono 16-bit).
 * Calls are placed through its `ctrl_tcp` control socket (netstring JSON commands).
 * Flags and quirks: ../../../shared/testing-with-real-peers.md ("baresip as a legacy phone").
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PeerProcess, requireBinary } from './processes.ts'
import { freePortRange, freeTcpPort, freeUdpPort } from './ports.ts'
import { goertzelPower } from './dsp/goertzel.ts'

export interface BaresipOptions {
  user: string
  password: string
  domain: string
  /** The gateway's SIP UDP port. */
  gatewayUdpPort: number
  /** The gateway's SIP address (its `sip.host`); default 127.0.0.1. */
  gatewayHost?: string
  /** The sine baresip sends, Hz (ausine). */
  toneHz: number
  /**
   * Texting (SIP MESSAGE, RFC 3428): baresip 1.0.0 has no `/message <uri> <text>`; its
   * `contact` module's `message` command sends to the *current contact*, so the contacts file
   * holds this one and it is selected. Turns the SIP trace on (`-s`): received MESSAGE bodies
   * are only visible there. Calls are answered by hand then (`answermode=manual`).
   */
  textContact?: string
}

export class Baresip {
  readonly dir: string
  readonly sipPort: number
  readonly ctrlPort: number
  readonly process: PeerProcess

  private constructor(dir: string, sipPort: number, ctrlPort: number, proc: PeerProcess) {
    this.dir = dir
    this.sipPort = sipPort
    this.ctrlPort = ctrlPort
    this.process = proc
  }

  /** Starts baresip and waits until its REGISTER got 200 OK. */
  static async start(o: BaresipOptions): Promise<Baresip> {
    const bin = requireBinary('baresip', 'baresip-core')
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-baresip-'))
    const sipPort = await freeUdpPort()
    const ctrlPort = await freeTcpPort()
    const rtpStart = await freePortRange(40)
    writeFileSync(join(dir, 'config'), [
      `sip_listen      127.0.0.1:${sipPort}`,
      `audio_source    ausine,${o.toneHz}`,
      'ausrc_srate     48000',
      'ausrc_channels  2',
      'auplay_srate    8000',
      'auplay_channels 1',
      'audio_alert     aufile,/dev/null',
      `rtp_ports       ${rtpStart}-${rtpStart + 39}`,
      'module_path     /usr/lib/baresip/modules',
      'module          g711.so',
      'module          aufile.so',
      'module          ausine.so',
      'module          sndfile.so',
      `snd_path        ${dir}`,
      'module_app      account.so',
      ...(o.textContact ? ['module_app      contact.so'] : []),
      'module_app      menu.so',
      'module_app      ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      '',
    ].join('\n'))
    const answermode = o.textContact ? 'manual' : 'auto'
    writeFileSync(join(dir, 'accounts'),
      `<sip:${o.user}@${o.domain}>;auth_pass=${o.password};outbound="sip:${o.gatewayHost ?? '127.0.0.1'}:${o.gatewayUdpPort};transport=udp";regint=120;answermode=${answermode};audio_codecs=PCMU,PCMA\n`)
    if (o.textContact) writeFileSync(join(dir, 'contacts'), `<${o.textContact}>\n`)
    const proc = new PeerProcess('baresip', [bin, '-f', dir, '-n', '127.0.0.1', ...(o.textContact ? ['-s'] : [])])
    const phone = new Baresip(dir, sipPort, ctrlPort, proc)
    try {
      await proc.waitFor(/200 OK \(\) \[\d+ binding/, 10_000)
      if (o.textContact) await phone.command('contact_next')
    } catch (e) {
      await phone.stop()
      throw e
    }
    return phone
  }

  /** Sends a ctrl_tcp command (netstring-framed JSON) and returns the raw reply. */
  async command(command: string, params = ''): Promise<string> {
    const json = JSON.stringify({ command, params, token: String(Date.now()) })
    const frame = `${Buffer.byteLength(json)}:${json},`
    let reply = ''
    let done!: () => void
    const finished = new Promise<void>((r) => (done = r))
    const sock = await Bun.connect({
      hostname: '127.0.0.1',
      port: this.ctrlPort,
      socket: {
        data(_s, d) {
          reply += new TextDecoder().decode(d)
          if (reply.endsWith(',')) done()
        },
        close() { done() },
        error() { done() },
      },
    })
    sock.write(frame)
    await Promise.race([finished, Bun.sleep(3000)])
    sock.end()
    return reply
  }

  dial(uri: string): Promise<string> {
    return this.command('dial', uri)
  }

  hangup(): Promise<string> {
    return this.command('hangup')
  }

  /** Sends `text` to the `textContact` (MESSAGE through the gateway; baresip answers the 407 itself). */
  sendMessage(text: string): Promise<string> {
    return this.command('message', text)
  }

  /**
   * Waits until the SIP trace (`textContact` turns it on) shows a MESSAGE that baresip received
   * with `text` in its body; returns that request as traced.
   */
  async receivedMessage(text: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.tracedMessages().find((m) => m.startsWith('MESSAGE ') && m.includes(text))
      if (found) return found
      if (Date.now() > deadline) throw new Error(`baresip received no MESSAGE with "${text}"\n--- output tail ---\n${this.process.tail()}`)
      await Bun.sleep(50)
    }
  }

  /** The SIP messages in the trace (start line first), in order: each follows a `#` line and a `<proto> <from> -> <to>` line. */
  tracedMessages(): string[] {
    const plain = this.process.output().replace(/\x1b\[[0-9;]*m/g, '')
    return plain.split(/\r?\n#\r?\n/).slice(1).map((block) => block.replace(/^[^\n]*->[^\n]*\n/, ''))
  }

  /**
   * What baresip heard in the call recorded after the first `before` recordings (the newest
   * one): the energy at `hz` and at `otherHz` (toneInRecording).
   * @throws Error when no recording was added since `before`
   */
  newestRecordingTone(before: number, hz: number, otherHz: number): { target: number; other: number; seconds: number } {
    const recs = this.recordings()
    if (recs.length <= before) throw new Error(`baresip recorded no new call (${recs.length} recordings, ${before} before)`)
    return toneInRecording(recs[recs.length - 1]!, hz, otherHz)
  }

  /** The recordings of what baresip heard (one per call), oldest first. */
  recordings(): string[] {
    return readdirSync(this.dir).filter((f) => f.startsWith('dump-') && f.endsWith('-dec.wav')).sort().map((f) => join(this.dir, f))
  }

  async stop(): Promise<void> {
    await this.process.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Reads a 16-bit PCM WAV (the `sndfile` dump) and returns its samples and rate.
 * Walks the RIFF chunks to find `fmt ` and `data`.
 */
export function readWav(path: string): { rate: number; samples: Int16Array } {
  const b = readFileSync(path)
  let off = 12
  let rate = 8000
  let channels = 1
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4)
    const size = b.readUInt32LE(off + 4)
    if (id === 'fmt ') {
      channels = b.readUInt16LE(off + 10)
      rate = b.readUInt32LE(off + 12)
    } else if (id === 'data') {
      const end = Math.min(b.length, off + 8 + size)
      const all = new Int16Array(b.buffer.slice(b.byteOffset + off + 8, b.byteOffset + end - ((end - off - 8) % 2)))
      if (channels === 1) return { rate, samples: all }
      const mono = new Int16Array(Math.floor(all.length / channels))
      for (let i = 0; i < mono.length; i++) mono[i] = all[i * channels]!
      return { rate, samples: mono }
    }
    off += 8 + size + (size % 2)
  }
  return { rate, samples: new Int16Array(0) }
}

/**
 * Relative power of `hz` against `otherHz` over the loudest second of a recording — a tone
 * test that an echo or silence cannot pass: returns both powers for the assertion message.
 */
export function toneInRecording(path: string, hz: number, otherHz: number): { target: number; other: number; seconds: number } {
  const { rate, samples } = readWav(path)
  const win = rate // one-second windows
  let best = { target: 0, other: 0 }
  for (let start = 0; start + win <= samples.length; start += win / 2) {
    const w = samples.subarray(start, start + win)
    const target = goertzelPower(w, rate, hz)
    if (target > best.target) best = { target, other: goertzelPower(w, rate, otherHz) }
  }
  return { ...best, seconds: samples.length / rate }
}
