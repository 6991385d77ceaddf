/**
 * Kamailio (5.x) as the upstream registrar of a registration trunk, for integration tests:
 * registrar + usrloc (in memory) + auth with one plain password in the configuration
 * (`pv_auth_check`, no database), answering OPTIONS, and a binrpc control socket so a test
 * can read the location table with `kamcmd ul.dump`.
 *
 *   const kam = await startKamailioRegistrar(peers, { username: '1001', password: 's3cret' })
 *   // kam.port, kam.realm; kam.registers() lists the REGISTERs it logged; await kam.bindings()
 *
 * Every request is logged to stderr as `PB-REQ method=.. cseq=.. callid=.. auth=<yes|no>
 * expires=..`, challenges as `PB-CHALLENGE`, saved bindings as `PB-SAVED`, so that a test
 * asserts what Kamailio saw (a 401 round trip, refreshes) from Kamailio's own words.
 *
 * OPTIONS: 404 for Request-URI user `nobody`, 200 otherwise.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeUdpPort, LOOPBACK } from './ports.ts'
import { requireBinary, type PeerProcess, type PeerSet } from './processes.ts'

export interface KamailioRegistrarOptions {
  /** The one account (auth user = To user). */
  username: string
  password: string
  /** Digest realm and registrar domain (default 'pbx.test'). */
  realm?: string
  /** Challenge algorithm (auth module `algorithm`, default MD5). */
  algorithm?: 'MD5' | 'SHA-256'
  /** Offer qop=auth (default true); false: RFC 2069 challenges without qop. */
  qop?: boolean
  /** registrar min_expires / default_expires / max_expires, seconds (defaults 1 / 60 / 3600). */
  minExpires?: number
  defaultExpires?: number
  maxExpires?: number
  /** registrar min_expires_mode 1: answer 423 Interval Too Brief instead of raising the interval (default false). */
  reply423?: boolean
  /** UDP port (default: a free one). */
  port?: number
}

/** One REGISTER as Kamailio logged it. */
export interface LoggedRegister {
  cseq: number
  callId: string
  /** Whether it carried an Authorization header. */
  auth: boolean
  expires: string
  /** The Authorization value ("" without). */
  authorization: string
}

/**
 * Polls `check` every 50 ms until it returns true.
 *
 * @throws Error with `what` when it is still false after `timeoutMs`
 */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(50)
  }
}

export interface KamailioRegistrar {
  readonly process: PeerProcess
  readonly port: number
  readonly realm: string
  readonly address: string
  /** The REGISTERs logged so far, in order (UDP retransmissions counted once). */
  registers(): LoggedRegister[]
  /** Number of challenges (401) sent so far (one per request, retransmissions counted once). */
  challenges(): number
  /** Number of OPTIONS received so far. */
  optionsReceived(): number
  /** `kamcmd ul.dump` output: the location table. */
  bindings(): Promise<string>
  /** Whether the location table holds `contactUri` (its `Address:` line in ul.dump). */
  hasContact(contactUri: string): Promise<boolean>
  /** Stops Kamailio (SIGTERM); `start()` runs it again on the same port with the same config. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops Kamailio and removes its directory (configuration, control socket). */
  close(): Promise<void>
}

const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules', '/usr/local/lib64/kamailio/modules']

/**
 * The directory holding Kamailio's modules (Debian's multiarch path, or /usr/lib, /usr/local).
 *
 * @throws Error naming the package when none holds registrar.so
 */
export function kamailioModuleDir(): string {
  const mpath = MODULE_DIRS.find((d) => Bun.file(join(d, 'registrar.so')).size > 0)
  if (mpath === undefined) throw new Error(`kamailio modules not found in ${MODULE_DIRS.join(', ')}: install with apt-get install -y kamailio`)
  return mpath
}

/** The configuration text (kamailio.cfg) for `o`. */
export function kamailioRegistrarConfig(o: Required<Omit<KamailioRegistrarOptions, 'port'>> & { port: number; ctlSocket: string; mpath: string }): string {
  const q = (s: string) => s.replace(/["\\]/g, '')
  return `#!KAMAILIO
debug=2
log_stderror=yes
log_prefix=""
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:${LOOPBACK}:${o.port}
alias="${q(o.realm)}"
mpath="${o.mpath}"

loadmodule "kex.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", ${o.minExpires})
modparam("registrar", "default_expires", ${o.defaultExpires})
modparam("registrar", "max_expires", ${o.maxExpires})
modparam("registrar", "min_expires_mode", ${o.reply423 ? 1 : 0})
modparam("auth", "algorithm", "${o.algorithm}")
modparam("auth", "nonce_expire", 300)
${o.qop ? 'modparam("auth", "qop", "auth")\nmodparam("auth", "nonce_count", 1)' : ''}
modparam("ctl", "binrpc", "unix:${o.ctlSocket}")

request_route {
  if (is_present_hf("Authorization")) $var(auth) = "yes"; else $var(auth) = "no";
  xlog("L_NOTICE", "PB-REQ method=$rm cseq=$cs callid=$ci auth=$var(auth) expires=$hdr(Expires) src=$si:$sp authorization=[$hdr(Authorization)]\\n");
  if (is_method("OPTIONS")) {
    if ($rU == "nobody") { sl_send_reply("404", "Not Here"); exit; }
    sl_send_reply("200", "OK");
    exit;
  }
  if (is_method("REGISTER")) {
    if (!pv_auth_check("${q(o.realm)}", "${q(o.password)}", "0", "1")) {
      xlog("L_NOTICE", "PB-CHALLENGE callid=$ci cseq=$cs\\n");
      auth_challenge("${q(o.realm)}", "${o.qop ? 1 : 0}");
      exit;
    }
    if ($au != "${q(o.username)}") { sl_send_reply("403", "Forbidden"); exit; }
    consume_credentials();
    if (!save("location")) { sl_reply_error(); exit; }
    xlog("L_NOTICE", "PB-SAVED callid=$ci aor=$tu expires=$hdr(Expires)\\n");
    exit;
  }
  sl_send_reply("403", "Forbidden");
}
`
}

/**
 * Starts Kamailio as a registrar on a free UDP port of 127.0.0.1 (see the module comment).
 *
 * @throws Error naming the package when kamailio or kamcmd is not installed, or with
 *   Kamailio's output when it does not start
 */
export async function startKamailioRegistrar(peers: PeerSet, options: KamailioRegistrarOptions): Promise<KamailioRegistrar> {
  const kamailio = requireBinary('kamailio', 'kamailio')
  const kamcmd = requireBinary('kamcmd', 'kamailio')
  const mpath = kamailioModuleDir()
  const dir = mkdtempSync(join(tmpdir(), 'pb-kamailio-'))
  const port = options.port ?? await freeUdpPort()
  const realm = options.realm ?? 'pbx.test'
  const ctlSocket = join(dir, 'ctl.sock')
  const cfg = join(dir, 'kamailio.cfg')
  writeFileSync(cfg, kamailioRegistrarConfig({
    username: options.username, password: options.password, realm, algorithm: options.algorithm ?? 'MD5',
    qop: options.qop ?? true, minExpires: options.minExpires ?? 1, defaultExpires: options.defaultExpires ?? 60,
    maxExpires: options.maxExpires ?? 3600, reply423: options.reply423 ?? false, port, ctlSocket, mpath,
  }))
  let proc: PeerProcess | null = null
  /** Output of the runs before the current one (a restart keeps what was logged). */
  let earlier = ''

  const run = async () => {
    proc = peers.spawn('kamailio', [kamailio, '-f', cfg, '-DD', '-E', '-m', '32', '-M', '8', '-P', join(dir, 'kamailio.pid'), '-Y', dir])
    // Ready when the control socket answers.
    const deadline = Date.now() + 10_000
    for (;;) {
      if (!proc.running) throw new Error(`kamailio exited at start:\n${proc.tail(60)}`)
      const r = Bun.spawnSync([kamcmd, '-s', `unix:${ctlSocket}`, 'core.version'], { stdout: 'pipe', stderr: 'pipe' })
      if (r.exitCode === 0) break
      if (Date.now() > deadline) throw new Error(`kamailio did not start within 10 s:\n${proc.tail(60)}`)
      await Bun.sleep(50)
    }
  }
  await run()

  const output = () => earlier + (proc?.output() ?? '')
  const bindings = async (): Promise<string> => {
    const r = Bun.spawnSync([kamcmd, '-s', `unix:${ctlSocket}`, 'ul.dump'], { stdout: 'pipe', stderr: 'pipe' })
    if (r.exitCode !== 0) throw new Error(`kamcmd ul.dump failed: ${r.stderr.toString()}`)
    return r.stdout.toString()
  }
  const stop = async (): Promise<void> => {
    if (proc === null) return
    const p = proc
    proc = null
    await p.kill()
    earlier += p.output()
  }
  return {
    get process() { return proc! },
    port, realm, address: LOOPBACK,
    registers() {
      const out: LoggedRegister[] = []
      const seen = new Set<string>()
      for (const m of output().matchAll(/PB-REQ method=REGISTER cseq=(\d+) callid=(\S+) auth=(yes|no) expires=(\S*) src=\S+ authorization=\[(.*)\]$/gm)) {
        // A UDP retransmission (Timer E: T1 is 50 ms with the tests' short timers, and a busy
        // machine may answer later) is the same request: same Call-ID, CSeq and credentials.
        const key = `${m[2]} ${m[1]} ${m[5]}`
        if (seen.has(key)) continue
        seen.add(key)
        out.push({ cseq: parseInt(m[1]!, 10), callId: m[2]!, auth: m[3] === 'yes', expires: m[4]!, authorization: m[5] === '<null>' ? '' : m[5]! })
      }
      return out
    },
    challenges() {
      // Retransmissions challenged again count once (see registers()).
      return new Set(output().match(/PB-CHALLENGE callid=\S+ cseq=\d+/g) ?? []).size
    },
    optionsReceived() {
      return output().match(/PB-REQ method=OPTIONS/g)?.length ?? 0
    },
    bindings,
    async hasContact(contactUri: string) {
      return (await bindings()).split('\n').some((l) => l.trim() === `Address: ${contactUri}`)
    },
    stop,
    async start() {
      if (proc !== null) return
      await run()
    },
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
