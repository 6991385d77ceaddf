/**
 * Media relay benchmark (`bun run bench:media`): N simultaneous anchored G.711 calls through
 * each media driver, N rising (1, 10, 25, 50, 100) until packets are lost or the CPU
 * saturates; both drivers in the same run, on the same machine.
 *
 *   bun bench/media.ts [--quick] [--only embedded|rtpengine] [--steps 1,10,25,50,100]
 *                      [--seconds 10] [--workers N]
 *
 * `--workers N` runs the embedded driver as the gateway's N workers do: N processes, each on
 * its slice of the RTP ports, calls spread over them (the CPU is their sum).
 *
 * One call = one browser-like WebRTC leg and one plain RTP leg, relayed by the driver:
 *
 *   werift RTCPeerConnection  <-- ICE + DTLS-SRTP -->  driver  <-- RTP/AVP PCMU -->  UDP "phone"
 *   (browser side: Chrome's codec list, max-bundle, rtcp-mux)     (one RTP/RTCP socket pair)
 *
 * Each side sends 20 ms PCMU frames, 50 packets/s each way (a 1000 Hz frame from the browser,
 * a 400 Hz frame from the phone; both are whole periods, so one frame repeats seamlessly).
 * Calls are spread over the 20 ms period in 4 groups (5 ms apart), as independent calls are.
 *
 * What runs where (the load generator is heavy: werift encrypts and decrypts SRTP for every
 * browser packet, which costs about as much as the relay itself):
 *
 * - THIS process: the load generator — N werift peer connections, N UDP phones, the media
 *   clock, and the statistics. Its CPU is reported ("gen CPU") but never counted as the
 *   driver's.
 * - embedded: the EmbeddedDriver in a child process (`bun bench/media.ts --child ...`, driven
 *   over Bun IPC like tests/integration/media/embedded-driver-child.ts), so that its CPU,
 *   read from /proc/<pid>/stat, is the driver's alone.
 * - rtpengine: the rtpengine daemon (userspace, `--num-threads=2`, the flags of
 *   tests/support/rtpengine.ts) relays; its CPU comes from /proc/<pid>/stat. The gateway-side
 *   RtpengineDriver (ng client, SDP repairs) runs in a child process like the embedded
 *   driver; its CPU is shown apart ("ctl") and added to the call set-up cost.
 *
 * Per step (N calls): the new calls are set up with the media paused (set-up CPU = the driver
 * processes' CPU during the set-up, per offer/answer pair — for the embedded driver that
 * includes werift's ICE and DTLS handshake); then media runs 1 s of warm-up and a measured
 * window (10 s; --quick: 3 s); then the senders stop and in-flight packets drain (300 ms).
 *
 * - CPU per stream: the driver's CPU over the window (% of ONE core) / N. A "stream" is one
 *   call: 50 packets/s each way.
 * - loss, each direction: 1 - received / sent over warm-up + window (+ drain).
 * - max gap: the largest interval between two packets received on one stream during the
 *   window (the generator's own timer lateness shows in "gen lag", so a stalled load
 *   generator is not taken for a stalled relay).
 * - the run for a driver stops after a step with > 0.1 % loss either way, a saturated driver
 *   (embedded >= 90 % of its one event loop, rtpengine >= 180 %), a machine above 190 % of
 *   its two cores, or a load generator that could not keep 50 packets/s.
 *
 * werift 0.25's DTLS client stalls in about one handshake in five against rtpengine 10.5
 * (tests/integration/media/rtpengine.test.ts); a call not connected after 3 s is deleted and
 * set up again (up to 4 attempts, counted in the set-up cost per offer/answer).
 *
 * Writes bench/results/media.json (--quick: media-quick.json; --only: media[-quick]-<driver>.json)
 * with os.loadavg() at the start and end and at each step (the machine is shared).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'sdp-transform'
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift'
import { setLogLevel } from '../gateway/src/base/log.ts'
import { EmbeddedDriver } from '../gateway/src/media/embedded/embedded-driver.ts'
import { g711Encode } from '../tests/support/dsp/g711.ts'
import { sineTone } from '../tests/support/dsp/goertzel.ts'
import { MediaError, type MediaDriver } from '../gateway/src/media/media-driver.ts'
import { RtpengineDriver } from '../gateway/src/media/rtpengine/rtpengine-driver.ts'
import { isUdpPortBound } from '../tests/support/ports.ts'
import { PeerProcess, requireBinary } from './lib/peer-process.ts'
import { loadAverage, machineInfo, parseFlags, printTable, writeResult } from './lib/report.ts'
import { cpuSeconds, ResourceMonitor, type ResourceUsage } from './lib/resource-monitor.ts'

const LOOPBACK = '127.0.0.1'
type DriverName = 'embedded' | 'rtpengine'

/** Issue targets for the embedded driver on this 2-core machine. */
const TARGET_CPU_PER_STREAM = 0.5
const TARGET_CALLS = 100
/** A step "has loss" above this fraction, either direction. */
const LOSS_LIMIT = 0.001

// =============================================================================================
// Child mode: one MediaDriver behind Bun IPC.
// =============================================================================================

interface ChildSpec {
  driver: DriverName
  rtpPortMin?: number
  rtpPortMax?: number
  ngPort?: number
  /**
   * Embedded only: this many driver processes, as the gateway's workers each run their own
   * embedded driver on a slice of the RTP ports (docs/architecture.md §4b). The child then
   * only routes requests (a new call round-robin, the call's later requests to the process
   * holding it); its driver processes are its children, so the relay's CPU is the tree's.
   */
  workers?: number
}

type ChildRequest = { id: number; op: 'offer' | 'answer' | 'delete' | 'active' | 'close'; request?: never }

/** Serves one driver over IPC: { id, op, request } -> { id, ok, result | status, message }. */
function runChild(spec: ChildSpec): void {
  setLogLevel('error')
  if ((spec.workers ?? 1) > 1) return runWorkerRouter(spec)
  const driver: MediaDriver =
    spec.driver === 'embedded'
      ? new EmbeddedDriver({ bindAddress: LOOPBACK, rtpPortMin: spec.rtpPortMin, rtpPortMax: spec.rtpPortMax })
      : new RtpengineDriver({ instances: [{ host: LOOPBACK, port: spec.ngPort! }] })
  process.on('message', async ({ id, op, request }: ChildRequest) => {
    try {
      let result: unknown = null
      if (op === 'offer') result = await driver.offer(request!)
      else if (op === 'answer') result = await driver.answer(request!)
      else if (op === 'delete') await driver.delete(request!)
      else if (op === 'active') result = driver.activeSessions
      else if (op === 'close') await driver.close()
      else throw new Error(`unknown op ${String(op)}`)
      process.send!({ id, ok: true, result })
    } catch (e) {
      process.send!({ id, ok: false, status: e instanceof MediaError ? e.status : 0, message: e instanceof Error ? e.message : String(e) })
    }
  })
  process.send!({ ready: true })
}

/** `ChildSpec.workers` driver processes behind one IPC endpoint; see ChildSpec.workers. */
function runWorkerRouter(spec: ChildSpec): void {
  const n = spec.workers!
  const span = Math.floor((spec.rtpPortMax! - spec.rtpPortMin! + 1) / n)
  const drivers = Array.from({ length: n }, (_, i) => new DriverChild({
    driver: spec.driver, rtpPortMin: spec.rtpPortMin! + i * span, rtpPortMax: spec.rtpPortMin! + (i + 1) * span - 1,
  }))
  const holder = new Map<string, DriverChild>()
  let next = 0
  const callIdOf = (request: unknown): string => String((request as { session?: { callId?: string }; callId?: string }).session?.callId ?? (request as { callId?: string }).callId)
  process.on('message', async ({ id, op, request }: ChildRequest) => {
    try {
      let result: unknown = null
      if (op === 'offer') {
        const d = drivers[next++ % n]!
        holder.set(callIdOf(request), d)
        result = await d.call('offer', request)
      } else if (op === 'answer' || op === 'delete') {
        const d = holder.get(callIdOf(request))
        if (d === undefined) throw new Error(`no driver holds call ${callIdOf(request)}`)
        result = await d.call(op, request)
        if (op === 'delete') holder.delete(callIdOf(request))
      } else if (op === 'active') {
        result = (await Promise.all(drivers.map((d) => d.call<number>('active')))).reduce((a, b) => a + b, 0)
      } else if (op === 'close') {
        await Promise.all(drivers.map((d) => d.stop()))
      } else throw new Error(`unknown op ${String(op)}`)
      process.send!({ id, ok: true, result })
    } catch (e) {
      process.send!({ id, ok: false, status: 0, message: e instanceof Error ? e.message : String(e) })
    }
  })
  void Promise.all(drivers.map((d) => d.ready)).then(() => process.send!({ ready: true }))
}

/** The parent's handle on a child driver process. */
class DriverChild {
  readonly proc: ReturnType<typeof Bun.spawn>
  readonly ready: Promise<void>
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()

  constructor(spec: ChildSpec) {
    let onReady: () => void = () => {}
    this.ready = new Promise((resolve) => (onReady = resolve))
    this.proc = Bun.spawn({
      cmd: [process.execPath, join(import.meta.dir, 'media.ts'), '--child', JSON.stringify(spec)],
      stdout: 'inherit',
      stderr: 'inherit',
      ipc: (m: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; status?: number; message?: string }) => {
        if (m.ready) return onReady()
        const w = this.waiting.get(m.id!)
        if (!w) return
        this.waiting.delete(m.id!)
        if (m.ok) w.resolve(m.result)
        else w.reject(new Error(`driver ${m.status ? `${m.status} ` : ''}${m.message}`))
      },
    })
  }

  get pid(): number {
    return this.proc.pid
  }

  call<T>(op: ChildRequest['op'], request?: unknown): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.proc.send({ id, op, request })
    })
  }

  async stop(): Promise<void> {
    try {
      await withTimeout(this.call('close'), 5_000, 'driver close')
    } catch {}
    this.proc.kill()
    await this.proc.exited
  }
}

// =============================================================================================
// The load generator: werift "browsers", UDP "phones", the media clock.
// =============================================================================================

/** One 20 ms PCMU frame of a tone whose period divides 20 ms (so the frame repeats seamlessly). */
function toneFrame(hz: number): Buffer {
  return Buffer.from(g711Encode(sineTone(new Int16Array(160), 8000, hz, 8000), 'PCMU'))
}
const BROWSER_FRAME = toneFrame(1000)
const PHONE_FRAME = toneFrame(400)

/** Arrival statistics of one direction of one call. */
class StreamStats {
  received = 0
  corrupt = 0
  /** True while the measured window is open (gaps are recorded only then). */
  measuring = false
  maxGapMs = 0
  /** Arrival of the first packet since the last reset (performance.now()). */
  firstAt = 0
  private last = 0

  packet(now: number, intact: boolean): void {
    if (this.measuring && this.last > 0 && now - this.last > this.maxGapMs) this.maxGapMs = now - this.last
    this.last = now
    if (this.received === 0) this.firstAt = now
    this.received++
    if (!intact) this.corrupt++
  }

  /** Closes the window: a stream that went silent counts its silence up to `now`. */
  close(now: number): void {
    if (this.measuring && this.last > 0 && now - this.last > this.maxGapMs) this.maxGapMs = now - this.last
    this.measuring = false
  }

  reset(): void {
    this.received = 0
    this.corrupt = 0
    this.maxGapMs = 0
    this.last = 0
    this.measuring = false
  }
}

/** Chrome's audio codecs (as tests/integration/media/fake-peers.ts configures werift). */
const CHROME_CODECS = () => [
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, payloadType: 8 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 48000, payloadType: 110 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: 126 }),
]

/** The browser leg: a werift RTCPeerConnection configured like Chrome, ICE on 127.0.0.1 only. */
class LoadBrowser {
  readonly pc: RTCPeerConnection
  readonly rx = new StreamStats()
  sent = 0
  private transceiver: RTCRtpTransceiver | null = null
  private seq = Math.floor(Math.random() * 0xffff)
  private ts = Math.floor(Math.random() * 0xffffffff)

  constructor() {
    this.pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      codecs: { audio: CHROME_CODECS(), video: [] },
      headerExtensions: { audio: [], video: [] },
      iceAdditionalHostAddresses: [LOOPBACK],
      iceInterfaceAddresses: { udp4: LOOPBACK },
      iceUseIpv6: false,
      iceUseTcp: false,
    } as ConstructorParameters<typeof RTCPeerConnection>[0])
    const seen = new WeakSet<object>()
    this.pc.onTrack.subscribe((track) => {
      if (seen.has(track)) return
      seen.add(track)
      track.onReceiveRtp.subscribe((p) => this.rx.packet(performance.now(), p.payload.equals(PHONE_FRAME)))
    })
  }

  async offer(): Promise<string> {
    this.transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' })
    await this.pc.setLocalDescription(await this.pc.createOffer())
    const deadline = performance.now() + 5_000
    while (this.pc.iceGatheringState !== 'complete' && performance.now() < deadline) await Bun.sleep(2)
    return this.pc.localDescription!.sdp
  }

  async applyAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp })
  }

  async connected(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.pc.connectionState !== 'connected') {
      if (performance.now() > deadline) throw new Error(`not connected after ${timeoutMs} ms (state ${this.pc.connectionState})`)
      await Bun.sleep(5)
    }
  }

  /** One 20 ms frame (werift's sender sets SSRC and the negotiated payload type, then SRTP). */
  send(): void {
    const header = new RtpHeader({ payloadType: 0, sequenceNumber: this.seq, timestamp: this.ts, marker: false })
    this.seq = (this.seq + 1) & 0xffff
    this.ts = (this.ts + 160) >>> 0
    this.sent++
    void this.transceiver?.sender.sendRtp(new RtpPacket(header, BROWSER_FRAME))
  }

  async close(): Promise<void> {
    try {
      await this.pc.close()
    } catch {}
  }
}

/** The legacy leg: an RTP/RTCP socket pair (RTP even) sending plain PCMU, no ICE. */
class LoadPhone {
  readonly rx = new StreamStats()
  sent = 0
  relayPort = 0
  relayAddress = LOOPBACK
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0
  private readonly out = Buffer.alloc(12 + 160)
  private seq = Math.floor(Math.random() * 0xffff)
  private ts = Math.floor(Math.random() * 0xffffffff)

  private constructor(
    private readonly rtp: Bun.udp.Socket<'buffer'>,
    private readonly rtcp: Bun.udp.Socket<'buffer'>,
  ) {
    this.out[0] = 0x80
    this.out[1] = 0 // PCMU
    this.out.writeUInt32BE(this.ssrc, 8)
    PHONE_FRAME.copy(this.out, 12)
  }

  static async open(): Promise<LoadPhone> {
    let phone: LoadPhone | null = null
    const onRtp = (data: Buffer, port: number) => phone?.onRtp(data, port)
    for (let attempt = 0; attempt < 50; attempt++) {
      const rtp = await Bun.udpSocket({ hostname: LOOPBACK, port: 0, binaryType: 'buffer', socket: { data: (_s, d, port) => onRtp(d, port), error() {} } })
      if (rtp.port % 2 === 0) {
        try {
          const rtcp = await Bun.udpSocket({ hostname: LOOPBACK, port: rtp.port + 1, binaryType: 'buffer', socket: { data() {}, error() {} } })
          phone = new LoadPhone(rtp, rtcp)
          return phone
        } catch {}
      }
      rtp.close()
    }
    throw new Error('no free even/odd UDP port pair on 127.0.0.1')
  }

  get port(): number {
    return this.rtp.port
  }

  /** RTP/AVP PCMU, with a=ssrc (werift routes incoming RTP by signalled SSRC, RFC 5576). */
  sdp(): string {
    return [
      'v=0', `o=phone ${this.ssrc} 1 IN IP4 ${LOOPBACK}`, 's=phone', `c=IN IP4 ${LOOPBACK}`, 't=0 0',
      `m=audio ${this.port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv',
      `a=ssrc:${this.ssrc} cname:phone-${this.ssrc.toString(16)}`, '',
    ].join('\r\n')
  }

  send(): void {
    const out = this.out
    out.writeUInt16BE(this.seq, 2)
    out.writeUInt32BE(this.ts, 4)
    this.seq = (this.seq + 1) & 0xffff
    this.ts = (this.ts + 160) >>> 0
    this.sent++
    try {
      this.rtp.send(out, this.relayPort, this.relayAddress)
    } catch {
      // ICMP port unreachable from an earlier packet: Bun throws once; the packet is lost.
    }
  }

  private onRtp(data: Buffer, port: number): void {
    // Only PCMU from the relay's port (RTCP and strays are not media).
    if (port !== this.relayPort || data.length < 12 || data[0]! >> 6 !== 2 || (data[1]! & 0x7f) !== 0) return
    let offset = 12 + 4 * (data[0]! & 0x0f)
    if (data[0]! & 0x10) offset += 4 + 4 * data.readUInt16BE(offset + 2)
    const intact = data.length - offset === 160 && data.subarray(offset).equals(BROWSER_FRAME)
    this.rx.packet(performance.now(), intact)
  }

  close(): void {
    this.rtp.close()
    this.rtcp.close()
  }
}

interface BenchCall {
  callId: string
  browser: LoadBrowser
  phone: LoadPhone
  /** Offer -> connected (ICE + DTLS), ms, of the attempt that worked. */
  setupMs: number
  attempts: number
}

/**
 * Sends one frame each way for every call every 20 ms, the calls in 4 groups 5 ms apart. A
 * late timer is caught up (at most 5 frames at once); frames older than that are skipped
 * and counted (the generator could not keep up).
 */
class MediaClock {
  static readonly GROUPS = 4
  skipped = 0
  /** Largest interval between two ticks while measuring (ms). */
  maxTickGapMs = 0
  measuring = false
  private timer: ReturnType<typeof setInterval> | null = null
  private start = 0
  private lastTick = 0
  private readonly sentFrames = new Array<number>(MediaClock.GROUPS).fill(0)

  constructor(private readonly calls: BenchCall[]) {}

  run(): void {
    this.start = performance.now()
    this.lastTick = this.start
    this.sentFrames.fill(0)
    this.timer = setInterval(() => this.tick(), 5)
    this.tick()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private tick(): void {
    const now = performance.now()
    if (this.measuring && now - this.lastTick > this.maxTickGapMs) this.maxTickGapMs = now - this.lastTick
    this.lastTick = now
    const groups = MediaClock.GROUPS
    for (let g = 0; g < groups; g++) {
      const elapsed = now - this.start - (g * 20) / groups
      if (elapsed < 0) continue
      const due = Math.floor(elapsed / 20) + 1 - this.sentFrames[g]!
      if (due <= 0) continue
      const send = Math.min(due, 5)
      if (due > send) this.skipped += (due - send) * 2 * Math.ceil((this.calls.length - g) / groups)
      this.sentFrames[g] = this.sentFrames[g]! + due
      for (let i = g; i < this.calls.length; i += groups) {
        const c = this.calls[i]!
        for (let k = 0; k < send; k++) {
          c.browser.send()
          c.phone.send()
        }
      }
    }
  }
}

// =============================================================================================
// rtpengine and port ranges.
// =============================================================================================

/** First port of `count` consecutive UDP ports nobody holds (by /proc/net/udp), below 32768. */
function freeUdpWindow(count: number, avoid: Array<[number, number]> = []): number {
  for (let base = 21000; base + count < 32768; base += 512) {
    if (avoid.some(([a, b]) => base <= b && base + count - 1 >= a)) continue
    let free = true
    for (let p = base; p < base + count && free; p++) if (isUdpPortBound(p)) free = false
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free UDP ports below 32768`)
}

interface RunningRtpengine {
  ngPort: number
  portMin: number
  portMax: number
  process: PeerProcess
  version: string
  stop(): Promise<void>
}

/**
 * rtpengine as tests/support/rtpengine.ts starts it (same flags), with a media port range
 * large enough for the biggest step (startRtpengine() gives it 64 ports: 16 calls).
 */
async function startRtpengineWide(ports: number): Promise<RunningRtpengine> {
  const bin = requireBinary('rtpengine', 'rtpengine-daemon')
  const portMin = freeUdpWindow(ports + 1)
  const ngPort = freeUdpWindow(1, [[portMin, portMin + ports]])
  const proc = new PeerProcess('rtpengine', [
    bin, '--config-file=none', '--foreground', '--log-stderr', '--table=-1', `--interface=${LOOPBACK}`,
    `--listen-ng=${LOOPBACK}:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMin + ports - 1}`,
    '--num-threads=2', '--dtls-passive', '--log-level=6',
  ])
  await proc.waitForOutput(/Startup complete/, 10_000).catch(async (e) => {
    await proc.stop()
    throw e
  })
  await Bun.sleep(200)
  // `rtpengine --version` prints `Version: 10.5.3.5-1+deb12u1` on stderr.
  const probe = Bun.spawnSync([bin, '--version'])
  const version = `rtpengine ${(probe.stdout.toString() + probe.stderr.toString()).replace(/^Version:\s*/i, '').trim().split('\n')[0] || 'unknown'}`
  return { ngPort, portMin, portMax: portMin + ports - 1, process: proc, version, stop: async () => void (await proc.stop()) }
}

// =============================================================================================
// One driver, rising N.
// =============================================================================================

interface StepResult {
  calls: number
  /** Driver CPU over the window, % of one core (rtpengine: the daemon). */
  driverCpuPercent: number
  cpuPerStreamPercent: number
  /** rtpengine only: the gateway-side ng client's CPU over the window. */
  controlCpuPercent: number | null
  driverRssMB: number
  lossBrowserToPhone: number
  lossPhoneToBrowser: number
  sent: { browserToPhone: number; phoneToBrowser: number }
  received: { browserToPhone: number; phoneToBrowser: number }
  corrupt: number
  maxGapBrowserToPhoneMs: number
  maxGapPhoneToBrowserMs: number
  medianMaxGapMs: number
  /** Set-up of this step's new calls: CPU per offer/answer pair (driver + ctl), ms. */
  setupCpuMsPerCall: number | null
  setupControlCpuMsPerCall: number | null
  setupAttempts: number
  setupMedianMs: number | null
  generatorCpuPercent: number
  machineCpuPercent: number
  generatorPpsPerStream: number
  generatorSkipped: number
  generatorMaxTickGapMs: number
  windowSeconds: number
  loadavg: number[]
  /** Streams that lost packets (at most 20): first arrival counted from the media start. */
  lossyStreams: Array<{ callId: string; direction: 'b->p' | 'p->b'; sent: number; received: number; firstArrivalMs: number | null }>
}

interface DriverResult {
  driver: DriverName
  description: string
  idleCpuPercent: number
  steps: StepResult[]
  stopReason: string
  maxCallsWithoutLoss: number
  leftActiveSessions: number | null
  error?: string
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** Sets up one call through `driver`, retrying a call that does not connect. */
async function openCall(driver: DriverChild, name: DriverName, index: number): Promise<{ call: BenchCall | null; attempts: number; errors: string[] }> {
  const errors: string[] = []
  const maxAttempts = 4
  const connectTimeout = name === 'rtpengine' ? 3_000 : 8_000
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const callId = `bench-${name}-${index}-a${attempt}@media.patchbay.test`
    const browser = new LoadBrowser()
    const phone = await LoadPhone.open()
    try {
      const t0 = performance.now()
      const toPhone = await driver.call<string>('offer', { session: { callId, fromTag: 'browser' }, sdp: await browser.offer(), from: 'webrtc', to: 'rtp' })
      const plain = parse(toPhone)
      const m = plain.media[0]!
      phone.relayPort = m.port
      phone.relayAddress = m.connection?.ip ?? plain.connection?.ip ?? LOOPBACK
      const toBrowser = await driver.call<string>('answer', { session: { callId, fromTag: 'browser', toTag: 'phone' }, sdp: phone.sdp(), from: 'rtp', to: 'webrtc' })
      await browser.applyAnswer(toBrowser)
      await browser.connected(connectTimeout)
      return { call: { callId, browser, phone, setupMs: performance.now() - t0, attempts: attempt }, attempts: attempt, errors }
    } catch (e) {
      errors.push(`call ${index} attempt ${attempt}: ${e instanceof Error ? e.message : String(e)}`)
      await driver.call('delete', { callId, fromTag: 'browser' }).catch(() => {})
      await browser.close()
      phone.close()
    }
  }
  return { call: null, attempts: maxAttempts, errors }
}

async function benchDriver(name: DriverName, steps: number[], windowSeconds: number, warmupSeconds: number, workers = 1): Promise<DriverResult> {
  const maxCalls = Math.max(...steps)
  let rtpengine: RunningRtpengine | null = null
  let child: DriverChild
  let description: string
  let relayPids: number
  if (name === 'embedded') {
    const ports = Math.max(64, maxCalls * 2 + 64)
    const rtpPortMin = freeUdpWindow(ports)
    child = new DriverChild({ driver: 'embedded', rtpPortMin, rtpPortMax: rtpPortMin + ports - 1, workers })
    relayPids = child.pid
    description = workers > 1
      ? `EmbeddedDriver (werift) in ${workers} worker processes under ${child.pid} (calls spread round-robin, each on its slice of RTP ports ${rtpPortMin}-${rtpPortMin + ports - 1})`
      : `EmbeddedDriver (werift) in child process ${child.pid}; RTP ports ${rtpPortMin}-${rtpPortMin + ports - 1}`
  } else {
    rtpengine = await startRtpengineWide(Math.max(128, maxCalls * 4 + 128))
    child = new DriverChild({ driver: 'rtpengine', ngPort: rtpengine.ngPort })
    relayPids = rtpengine.process.pid
    description =
      `${rtpengine.version} daemon pid ${rtpengine.process.pid} (userspace, 2 threads, ports ${rtpengine.portMin}-${rtpengine.portMax}); ` +
      `RtpengineDriver (ng control) in child process ${child.pid}`
  }
  await child.ready
  const relay = new ResourceMonitor(relayPids)
  const control = rtpengine ? new ResourceMonitor(child.pid) : null
  const result: DriverResult = { driver: name, description, idleCpuPercent: 0, steps: [], stopReason: 'all steps done', maxCallsWithoutLoss: 0, leftActiveSessions: null }
  const calls: BenchCall[] = []
  console.log(`\n== ${name}: ${description}`)
  try {
    const idleMark = relay.begin()
    await Bun.sleep(1000)
    result.idleCpuPercent = relay.end(idleMark).cpuPercent

    for (const n of steps) {
      // Set-up of the new calls, media paused.
      const setupMark = relay.begin()
      const controlMark = control?.begin()
      let attempts = 0
      const setups: number[] = []
      const errors: string[] = []
      while (calls.length < n) {
        const batch = Math.min(5, n - calls.length)
        const opened = await Promise.all(Array.from({ length: batch }, (_, k) => openCall(child, name, calls.length + k)))
        for (const o of opened) {
          attempts += o.attempts
          errors.push(...o.errors)
          if (!o.call) throw new Error(`a call never connected through ${name}:\n${o.errors.join('\n')}${rtpengine ? `\n--- rtpengine ---\n${rtpengine.process.tail(20)}` : ''}`)
          calls.push(o.call)
          setups.push(o.call.setupMs)
        }
      }
      const setupUsage = relay.end(setupMark)
      const controlSetup = control && controlMark ? control.end(controlMark) : null
      if (errors.length > 0) console.log(`   ${errors.length} set-up attempt(s) retried, e.g. ${errors[0]}`)
      // The browser says connected once DTLS is done on its side; give the driver's side the
      // same moment before media starts.
      await Bun.sleep(250)

      // Media: warm-up, measured window, drain.
      for (const c of calls) {
        c.browser.rx.reset()
        c.phone.rx.reset()
        c.browser.sent = 0
        c.phone.sent = 0
      }
      const clock = new MediaClock(calls)
      const mediaStart = performance.now()
      clock.run()
      await Bun.sleep(warmupSeconds * 1000)
      for (const c of calls) {
        c.browser.rx.measuring = true
        c.phone.rx.measuring = true
      }
      clock.measuring = true
      const relayMark = relay.begin()
      const controlWindow = control?.begin()
      const generatorCpu0 = cpuSeconds([process.pid])
      const sent0 = calls.reduce((s, c) => s + c.browser.sent + c.phone.sent, 0)
      const t0 = performance.now()
      await Bun.sleep(windowSeconds * 1000)
      const wall = (performance.now() - t0) / 1000
      const usage: ResourceUsage = relay.end(relayMark)
      const controlUsage = control && controlWindow ? control.end(controlWindow) : null
      const generatorCpu = ((cpuSeconds([process.pid]) - generatorCpu0) / wall) * 100
      const sentInWindow = calls.reduce((s, c) => s + c.browser.sent + c.phone.sent, 0) - sent0
      const end = performance.now()
      for (const c of calls) {
        c.browser.rx.close(end)
        c.phone.rx.close(end)
      }
      clock.stop()
      await Bun.sleep(300)

      const sum = (f: (c: BenchCall) => number) => calls.reduce((s, c) => s + f(c), 0)
      const sentB2P = sum((c) => c.browser.sent)
      const sentP2B = sum((c) => c.phone.sent)
      const recvB2P = sum((c) => c.phone.rx.received)
      const recvP2B = sum((c) => c.browser.rx.received)
      const gaps = calls.flatMap((c) => [c.phone.rx.maxGapMs, c.browser.rx.maxGapMs])
      const lossyStreams: StepResult['lossyStreams'] = []
      for (const c of calls) {
        for (const [direction, sent, rx] of [['b->p', c.browser.sent, c.phone.rx], ['p->b', c.phone.sent, c.browser.rx]] as const) {
          if (rx.received >= sent || lossyStreams.length >= 20) continue
          lossyStreams.push({ callId: c.callId, direction, sent, received: rx.received, firstArrivalMs: rx.received > 0 ? round(rx.firstAt - mediaStart, 1) : null })
        }
      }
      const step: StepResult = {
        calls: n,
        driverCpuPercent: usage.cpuPercent,
        cpuPerStreamPercent: round(usage.cpuPercent / n, 3),
        controlCpuPercent: controlUsage?.cpuPercent ?? null,
        driverRssMB: usage.rssMB,
        lossBrowserToPhone: sentB2P > 0 ? Math.max(0, 1 - recvB2P / sentB2P) : 0,
        lossPhoneToBrowser: sentP2B > 0 ? Math.max(0, 1 - recvP2B / sentP2B) : 0,
        sent: { browserToPhone: sentB2P, phoneToBrowser: sentP2B },
        received: { browserToPhone: recvB2P, phoneToBrowser: recvP2B },
        corrupt: sum((c) => c.phone.rx.corrupt + c.browser.rx.corrupt),
        maxGapBrowserToPhoneMs: round(Math.max(...calls.map((c) => c.phone.rx.maxGapMs)), 1),
        maxGapPhoneToBrowserMs: round(Math.max(...calls.map((c) => c.browser.rx.maxGapMs)), 1),
        medianMaxGapMs: round(median(gaps) ?? 0, 1),
        setupCpuMsPerCall: attempts > 0 ? round(((setupUsage.cpuSeconds + (controlSetup?.cpuSeconds ?? 0)) * 1000) / attempts, 1) : null,
        setupControlCpuMsPerCall: controlSetup && attempts > 0 ? round((controlSetup.cpuSeconds * 1000) / attempts, 1) : null,
        setupAttempts: attempts,
        setupMedianMs: setups.length > 0 ? round(median(setups)!, 0) : null,
        generatorCpuPercent: round(generatorCpu, 1),
        machineCpuPercent: usage.machineCpuPercent,
        generatorPpsPerStream: round(sentInWindow / 2 / n / wall, 1),
        generatorSkipped: clock.skipped,
        generatorMaxTickGapMs: round(clock.maxTickGapMs, 1),
        windowSeconds: round(wall, 2),
        loadavg: loadAverage(),
        lossyStreams,
      }
      result.steps.push(step)
      printStep(name, step)
      for (const l of lossyStreams.slice(0, 3)) {
        console.log(`     lost: ${l.callId} ${l.direction}: ${l.sent - l.received} of ${l.sent} (first packet ${l.firstArrivalMs ?? '-'} ms after media start)`)
      }

      const lossy = step.lossBrowserToPhone > LOSS_LIMIT || step.lossPhoneToBrowser > LOSS_LIMIT || step.corrupt > 0
      if (!lossy) result.maxCallsWithoutLoss = n
      const saturation = name === 'embedded' ? 90 : 180
      if (lossy) {
        result.stopReason = `loss at ${n} calls (browser->phone ${pct(step.lossBrowserToPhone)}, phone->browser ${pct(step.lossPhoneToBrowser)}, corrupt ${step.corrupt})`
        break
      }
      if (step.driverCpuPercent >= saturation) {
        result.stopReason = `driver CPU saturated at ${n} calls (${step.driverCpuPercent} % of one core)`
        break
      }
      if (step.machineCpuPercent >= 190) {
        result.stopReason = `machine CPU saturated at ${n} calls (${step.machineCpuPercent} % of 200)`
        break
      }
      if (step.generatorPpsPerStream < 47.5) {
        result.stopReason = `load generator fell behind at ${n} calls (${step.generatorPpsPerStream} packets/s per stream and direction)`
        break
      }
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e)
    result.stopReason = `error: ${result.error.split('\n')[0]}`
    console.log(`   ERROR ${result.error}`)
  } finally {
    relay.close()
    control?.close()
    await Promise.all(calls.map((c) => child.call('delete', { callId: c.callId, fromTag: 'browser' }).catch(() => {})))
    result.leftActiveSessions = await withTimeout(child.call<number>('active'), 5_000, 'active').catch(() => null)
    await Promise.all(calls.map((c) => c.browser.close()))
    for (const c of calls) c.phone.close()
    await child.stop()
    await rtpengine?.stop()
  }
  return result
}

function pct(x: number): string {
  return `${round(x * 100, 3)} %`
}

function printStep(name: DriverName, s: StepResult): void {
  console.log(
    `   ${name} ${String(s.calls).padStart(3)} calls: driver ${s.driverCpuPercent} % (${s.cpuPerStreamPercent} %/stream)` +
      `${s.controlCpuPercent !== null ? ` + ctl ${s.controlCpuPercent} %` : ''}, loss b->p ${pct(s.lossBrowserToPhone)} p->b ${pct(s.lossPhoneToBrowser)}, ` +
      `max gap ${s.maxGapBrowserToPhoneMs}/${s.maxGapPhoneToBrowserMs} ms, set-up ${s.setupCpuMsPerCall ?? '-'} ms CPU/call (${s.setupAttempts} offer/answer), ` +
      `gen ${s.generatorCpuPercent} % at ${s.generatorPpsPerStream} pps/stream (lag ${s.generatorMaxTickGapMs} ms), machine ${s.machineCpuPercent} %, load ${s.loadavg.join(' ')}`,
  )
}

function tableRows(results: DriverResult[]): Array<Record<string, string | number | null>> {
  return results.flatMap((r) =>
    r.steps.map((s) => ({
      driver: r.driver,
      calls: s.calls,
      'driver CPU %': s.driverCpuPercent,
      'CPU/stream %': s.cpuPerStreamPercent,
      'ctl CPU %': s.controlCpuPercent,
      'loss b->p %': round(s.lossBrowserToPhone * 100, 3),
      'loss p->b %': round(s.lossPhoneToBrowser * 100, 3),
      'max gap b->p ms': s.maxGapBrowserToPhoneMs,
      'max gap p->b ms': s.maxGapPhoneToBrowserMs,
      'setup CPU ms/call': s.setupCpuMsPerCall,
      'setup ms (median)': s.setupMedianMs,
      'driver RSS MB': s.driverRssMB,
      'gen CPU %': s.generatorCpuPercent,
      'gen pps': s.generatorPpsPerStream,
      'gen lag ms': s.generatorMaxTickGapMs,
      'machine CPU %': s.machineCpuPercent,
    })),
  )
}

// =============================================================================================
// main
// =============================================================================================

async function main(): Promise<void> {
  const flags = (() => {
    try {
      return parseFlags(process.argv.slice(2), { quick: 'flag', only: 'value', steps: 'value', seconds: 'value', child: 'value', workers: 'value' })
    } catch (e) {
      console.error(`bench/media.ts: ${(e as Error).message}`)
      process.exit(2)
    }
  })()
  const childSpec = flags.get('child')
  if (childSpec !== undefined) {
    runChild(JSON.parse(childSpec) as ChildSpec)
    return
  }
  setLogLevel('error')
  const quick = flags.has('quick')
  const steps = (flags.get('steps') ?? (quick ? '1,5' : '1,10,25,50,100')).split(',').map(Number)
  if (steps.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--steps: positive integers, got ${flags.get('steps')}`)
  const windowSeconds = Number(flags.get('seconds') ?? (quick ? 3 : 10))
  const warmupSeconds = quick ? 0.5 : 1
  const only = flags.get('only')
  const drivers: DriverName[] = only ? (only.split(',') as DriverName[]) : ['embedded', 'rtpengine']
  for (const d of drivers) if (d !== 'embedded' && d !== 'rtpengine') throw new Error(`--only: embedded or rtpengine, got ${d}`)
  if (drivers.includes('rtpengine')) requireBinary('rtpengine', 'rtpengine-daemon')

  const loadStart = loadAverage()
  const startedAt = new Date().toISOString()
  const layout = {
    loadGenerator: `this process (pid ${process.pid}): N werift RTCPeerConnections (browser side: ICE, DTLS client, SRTP) + N UDP phones (plain RTP) + the media clock`,
    embedded: 'EmbeddedDriver in a child process (bun bench/media.ts --child); CPU = that process',
    rtpengine: 'rtpengine daemon (userspace, --num-threads=2); CPU = the daemon; the RtpengineDriver ng client runs in a child process, shown as ctl',
  }
  console.log(`bench:media ${quick ? '(quick) ' : ''}steps ${steps.join(', ')} calls, window ${windowSeconds} s, warm-up ${warmupSeconds} s; 50 pps each way per call, PCMU 20 ms`)
  console.log(`machine: ${JSON.stringify(machineInfo())}; load average ${loadStart.join(' ')}`)
  for (const [k, v] of Object.entries(layout)) console.log(`  ${k}: ${v}`)

  const results: DriverResult[] = []
  const workers = Number(flags.get('workers') ?? 1)
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: a positive integer, got ${flags.get('workers')}`)
  for (const d of drivers) results.push(await benchDriver(d, steps, windowSeconds, warmupSeconds, d === 'embedded' ? workers : 1))
  const loadEnd = loadAverage()

  console.log('')
  printTable(tableRows(results))
  console.log('')
  for (const r of results) {
    console.log(`${r.driver}: idle ${r.idleCpuPercent} % of a core; stop: ${r.stopReason}; largest step without loss: ${r.maxCallsWithoutLoss} calls; sessions left after delete: ${r.leftActiveSessions}`)
  }
  const embedded = results.find((r) => r.driver === 'embedded')
  const targets: Record<string, unknown> = {}
  if (embedded && !steps.includes(TARGET_CALLS)) {
    console.log(`targets (embedded): not evaluated (the steps do not reach ${TARGET_CALLS} calls; run without --quick)`)
  } else if (embedded && embedded.steps.length > 0) {
    const last = embedded.steps[embedded.steps.length - 1]!
    const cpuOk = last.cpuPerStreamPercent <= TARGET_CPU_PER_STREAM
    const callsOk = embedded.maxCallsWithoutLoss >= TARGET_CALLS
    Object.assign(targets, {
      cpuPerStreamPercent: { target: TARGET_CPU_PER_STREAM, measured: last.cpuPerStreamPercent, atCalls: last.calls, met: cpuOk },
      callsWithoutLoss: { target: TARGET_CALLS, measured: embedded.maxCallsWithoutLoss, met: callsOk },
    })
    console.log(
      `targets (embedded): <= ${TARGET_CPU_PER_STREAM} % of a core per stream: ${last.cpuPerStreamPercent} % at ${last.calls} calls -> ${cpuOk ? 'MET' : 'NOT MET'}; ` +
        `${TARGET_CALLS} calls without loss: ${embedded.maxCallsWithoutLoss} -> ${callsOk ? 'MET' : 'NOT MET'}`,
    )
  }
  console.log(`load average: start ${loadStart.join(' ')}, end ${loadEnd.join(' ')} (a shared machine: other work competes for the 2 cores)`)
  const name = `media${quick ? '-quick' : ''}${only ? `-${drivers.join('-')}` : ''}${workers > 1 ? `-${workers}w` : ''}`
  const file = writeResult(name, {
    benchmark: 'media', quick, startedAt, machine: machineInfo(), loadavgStart: loadStart, loadavgEnd: loadEnd, layout,
    config: { steps, windowSeconds, warmupSeconds, packetsPerSecondEachWay: 50, codec: 'PCMU/8000 20 ms', lossLimit: LOSS_LIMIT, clockGroups: MediaClock.GROUPS },
    targets, drivers: results, kernel: readFileSync('/proc/version', 'utf8').trim(),
  })
  console.log(`wrote ${file}`)
  process.exit(results.some((r) => r.error) ? 1 : 0)
}

await main()
