/**
 * CPU and memory of a peer under load, read from Linux procfs (proc(5)):
 *
 * - CPU: `utime + stime` (fields 14 and 15 of /proc/PID/stat, in clock ticks, all threads),
 *   summed over the process and its descendants (Kamailio forks one process per worker),
 *   as a percentage of ONE core over a measured interval (200 % = two cores busy).
 * - Memory: `VmRSS` from /proc/PID/status and `Pss` from /proc/PID/smaps_rollup, each summed
 *   over the process tree. RSS counts shared memory once per process (Kamailio's workers all
 *   map the same shared-memory pool, so the RSS sum overstates it); PSS splits shared pages
 *   between the processes that map them, so PSS sums compare a multi-process server with a
 *   single-process one fairly. For one process the two differ only by shared libraries.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

let clockTicks: number | null = null

/** sysconf(_SC_CLK_TCK), from `getconf CLK_TCK` (100 on Linux x86-64). */
function ticksPerSecond(): number {
  if (clockTicks === null) {
    const r = Bun.spawnSync(['getconf', 'CLK_TCK'])
    const n = Number(r.stdout.toString().trim())
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100
  }
  return clockTicks
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** Fields of /proc/PID/stat after the `(comm)` part (which may contain spaces). */
function statFields(pid: number): string[] | null {
  const text = readText(`/proc/${pid}/stat`)
  if (text === null) return null
  const close = text.lastIndexOf(')')
  return text.slice(close + 2).trim().split(' ')
}

/** `pid` and all its live descendants (found through each process's parent pid). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const p = Number(name)
    if (!Number.isInteger(p) || p <= 0) continue
    const f = statFields(p)
    if (f === null) continue
    const ppid = Number(f[1]) // field 4 (ppid); f[0] is field 3 (state)
    const list = children.get(ppid)
    if (list) list.push(p)
    else children.set(ppid, [p])
  }
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const p = queue.shift()!
    out.push(p)
    for (const c of children.get(p) ?? []) queue.push(c)
  }
  return out
}

/** CPU seconds (user + system) used so far by `pids` together; gone processes count 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const f = statFields(pid)
    if (f === null) continue
    ticks += Number(f[11]) + Number(f[12]) // fields 14 utime, 15 stime
  }
  return ticks / ticksPerSecond()
}

/** A `Name:   123 kB` line of a procfs file, in bytes (0 when absent). */
function kbField(text: string | null, name: string): number {
  if (text === null) return 0
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)
  return m ? Number(m[1]) * 1024 : 0
}

export interface MemorySample {
  /** Sum of VmRSS over the processes, bytes. */
  rss: number
  /** Sum of Pss over the processes, bytes. */
  pss: number
  /** Sum of VmHWM (each process's own peak RSS), bytes. */
  hwm: number
}

/** Memory of `pids` together (see the module comment for RSS vs PSS). */
export function memory(pids: readonly number[]): MemorySample {
  let rss = 0
  let pss = 0
  let hwm = 0
  for (const pid of pids) {
    const status = readText(`/proc/${pid}/status`)
    rss += kbField(status, 'VmRSS')
    hwm += kbField(status, 'VmHWM')
    pss += kbField(readText(`/proc/${pid}/smaps_rollup`), 'Pss')
  }
  return { rss, pss, hwm }
}

/**
 * CPU seconds used so far by every process of the machine (user + system, fields 14-15 of
 * /proc/PID/stat), by pid. The machine-wide counters of /proc/stat are tick-sampled and
 * read far too low here (processes woken by 1 ms timers are rarely running when the tick
 * lands); per-process times are exact. Reaped children's times (cutime) are left out: a
 * test runner reaping a browser that ran for minutes would count all of it at once.
 */
export function allProcessCpu(): Map<number, number> {
  const out = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 0) continue
    const f = statFields(pid)
    if (f === null) continue
    out.set(pid, Number(f[11]) + Number(f[12]))
  }
  return out
}

/**
 * CPU seconds between two {@link allProcessCpu} snapshots: processes born in between count
 * in full, processes gone by the second snapshot not at all (so short-lived ones are missed).
 */
function machineCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0)
  return ticks / ticksPerSecond()
}

/**
 * Datagrams the kernel dropped because a socket's receive buffer was full: for the UDP
 * sockets bound to `port` on 127.0.0.1 / 0.0.0.0 (the `drops` column of /proc/net/udp),
 * and machine-wide (`Udp: RcvbufErrors` of /proc/net/snmp: every socket, SIPp's included).
 */
export function udpDrops(port: number | null): { peer: number; machine: number } {
  let peer = 0
  if (port !== null) {
    const hex = port.toString(16).toUpperCase().padStart(4, '0')
    for (const line of (readText('/proc/net/udp') ?? '').split('\n')) {
      const f = line.trim().split(/\s+/)
      if (f[1] === `0100007F:${hex}` || f[1] === `00000000:${hex}`) peer += Number(f[12]) || 0
    }
  }
  const snmp = (readText('/proc/net/snmp') ?? '').split('\n').filter((l) => l.startsWith('Udp:'))
  const names = snmp[0]?.split(/\s+/) ?? []
  const values = snmp[1]?.split(/\s+/) ?? []
  const machine = Number(values[names.indexOf('RcvbufErrors')]) || 0
  return { peer, machine }
}

/** What a peer used over one measured interval. */
export interface ResourceUsage {
  /** CPU as a percentage of one core (all processes of the tree, all threads). */
  cpuPercent: number
  /** CPU seconds used in the interval. */
  cpuSeconds: number
  /**
   * CPU of every process on the machine in the interval (peer + SIPp + everyone else's
   * tests), % of one core: with 2 cores, near 200 % means the peer was competing for CPU.
   * Approximate: processes that ended within the interval are missed, and kernel softirq
   * work is charged to whichever process was running.
   */
  machineCpuPercent: number
  /** 1-minute load average at the end of the interval (the machine is shared: others' work shows here). */
  loadAverage1m: number
  /** Datagrams dropped at the peer's own UDP socket(s) (receive buffer full) in the interval. */
  peerUdpDrops: number
  /** Datagrams dropped at any UDP socket of the machine (SIPp's too) in the interval. */
  machineUdpDrops: number
  wallSeconds: number
  /** Memory at the end of the interval, MB (10^6 bytes). */
  rssMB: number
  pssMB: number
  /** Highest PSS sum seen by the 250 ms sampler during the interval, MB. */
  peakPssMB: number
  /** Highest RSS sum seen by the 250 ms sampler during the interval, MB. */
  peakRssMB: number
  processes: number
}

const MB = 1e6
const round1 = (x: number) => Math.round(x * 10) / 10

/**
 * Measures one peer (one or several processes and their descendants) over intervals:
 *
 *   const mon = new ResourceMonitor(pid)                 // one process tree
 *   const mon = new ResourceMonitor([pidA, pidB, redis], [portA, portB])   // several nodes
 *   const mark = mon.begin(); ...load...; const usage = mon.end(mark)
 *
 * With several roots, CPU, memory, process counts and peer UDP drops are summed over all of
 * them (a pid found under two roots counts once). While an interval is open, memory is
 * sampled every 250 ms for the peak.
 */
export class ResourceMonitor {
  private pids: number[]
  private timer: ReturnType<typeof setInterval> | null = null
  private peakPss = 0
  private peakRss = 0
  /** The measured roots (each with its descendants). */
  readonly rootPids: readonly number[]
  /** The peer's SIP UDP ports (their sockets' drop counters are summed); empty: none. */
  readonly udpPorts: readonly number[]

  /**
   * @param roots the pid whose process tree is the peer, or several (several nodes, and the
   *   services they share such as redis-server): their trees are measured together
   * @param udpPorts the peer's SIP port (or every node's), for its sockets' drop counters
   * @throws Error when `roots` is an empty list
   */
  constructor(roots: number | readonly number[], udpPorts: number | readonly number[] | null = null) {
    this.rootPids = typeof roots === 'number' ? [roots] : [...roots]
    if (this.rootPids.length === 0) throw new Error('ResourceMonitor: no pid to measure')
    this.udpPorts = udpPorts === null ? [] : typeof udpPorts === 'number' ? [udpPorts] : [...udpPorts]
    this.pids = this.trees()
  }

  /** The first root pid (the only one for a single-process-tree peer). */
  get rootPid(): number {
    return this.rootPids[0]!
  }

  /** The first UDP port, or null (the only one for a single-node peer). */
  get udpPort(): number | null {
    return this.udpPorts[0] ?? null
  }

  /** Every root and its live descendants, each pid once. */
  private trees(): number[] {
    if (this.rootPids.length === 1) return processTree(this.rootPids[0]!)
    return [...new Set(this.rootPids.flatMap((pid) => processTree(pid)))]
  }

  /** Drop counters summed over the peer's ports (the machine-wide counter read once). */
  private drops(): { peer: number; machine: number } {
    if (this.udpPorts.length <= 1) return udpDrops(this.udpPort)
    const each = this.udpPorts.map((port) => udpDrops(port))
    return { peer: each.reduce((sum, d) => sum + d.peer, 0), machine: each[0]!.machine }
  }

  /** Starts an interval; returns its opening mark. */
  begin(): { cpu: number; at: number; all: Map<number, number>; drops: { peer: number; machine: number } } {
    this.pids = this.trees()
    this.peakPss = 0
    this.peakRss = 0
    this.sample()
    this.timer ??= setInterval(() => this.sample(), 250)
    return { cpu: cpuSeconds(this.pids), at: performance.now(), all: allProcessCpu(), drops: this.drops() }
  }

  /** Ends the interval opened by `mark`. */
  end(mark: ReturnType<ResourceMonitor['begin']>): ResourceUsage {
    const cpu = cpuSeconds(this.pids)
    const drops = this.drops()
    const all = machineCpuDelta(mark.all, allProcessCpu())
    const wall = (performance.now() - mark.at) / 1000
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    const m = this.sample()
    return {
      cpuPercent: round1(wall > 0 ? ((cpu - mark.cpu) / wall) * 100 : 0),
      cpuSeconds: Math.round((cpu - mark.cpu) * 100) / 100,
      machineCpuPercent: round1(wall > 0 ? (all / wall) * 100 : 0),
      loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
      peerUdpDrops: drops.peer - mark.drops.peer,
      machineUdpDrops: drops.machine - mark.drops.machine,
      wallSeconds: Math.round(wall * 100) / 100,
      rssMB: round1(m.rss / MB),
      pssMB: round1(m.pss / MB),
      peakPssMB: round1(this.peakPss / MB),
      peakRssMB: round1(this.peakRss / MB),
      processes: this.pids.length,
    }
  }

  /** Memory now (not tied to an interval). */
  memoryNow(): MemorySample {
    return memory(this.trees())
  }

  private sample(): MemorySample {
    const m = memory(this.pids)
    if (m.pss > this.peakPss) this.peakPss = m.pss
    if (m.rss > this.peakRss) this.peakRss = m.rss
    return m
  }

  /** Stops the sampler (when a step is abandoned). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
