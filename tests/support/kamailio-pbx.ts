/**
 * Kamailio (5.x) as a small upstream PBX for trunk tests (issue 13, "Tests with real peers"):
 * a stateful proxy (tm, record_route) with registrar + usrloc (in memory) and digest auth
 * (`pv_auth_check` with the users' plain passwords in the configuration, no database):
 *
 * - REGISTER: challenged (401), the auth user must equal the To user, then `save("location")`;
 * - INVITE (out of dialog): challenged (407) unless it carries valid credentials of one of
 *   its users — including the gateway's trunk account, so the gateway must answer the 407
 *   with the trunk's credentials. The From user is not checked (a trunk sends its callers'
 *   identities, as Asterisk and FreeSWITCH accept from an authenticated trunk). Then:
 *   - a DID of the gateway (`dids`): the Request-URI user becomes the trunk account and
 *     `lookup("location")` sends the call to the Contact the gateway registered; the To header
 *     keeps the DID (what carriers and PBXs do for a registered trunk: the registration is
 *     what tells them where the account is, so no static route to the gateway exists);
 *   - an "outside number" (`+…`, or `9…` with the 9 stripped, "9 for an outside line"): the
 *     Request-URI host becomes the `outside` carrier (a SIPp UAS), relayed there — or, for a
 *     carrier given as a user, the Contact that user registered (a baresip with a tone);
 *   - anything else: `lookup("location")` for its users (404 without a binding);
 * - in-dialog requests: `loose_route` + `t_relay`; CANCEL relayed by its transaction;
 * - OPTIONS to the PBX itself: 200.
 *
 * Two sockets on one port, like a PBX with a phone LAN and a trunk interface: `lanAddress`
 * 127.0.0.1 (baresip's outbound proxy is always 127.0.0.1, tests/support/baresip.ts) and
 * `trunkAddress` (default 127.0.0.3): the gateway's trunk points there and every initial
 * request Kamailio relays leaves from it, so the gateway recognises the PBX by source address
 * while its own browser users (WebSockets from 127.0.0.1) are never mistaken for the trunk.
 *
 * Every request is logged as `PB-REQ method=.. callid=.. cseq=.. ruri=.. src=..
 * from=.. to=.. auth=<yes|no> via=[..]`, challenges as `PB-CHALLENGE`, accepted credentials as
 * `PB-AUTHED`, routing decisions as `PB-ROUTE kind=<did|outside|location> ruri=..`, replies
 * as `PB-REPLY`, so a test asserts from Kamailio's own words what it saw and did.
 *
 *   const pbx = await startKamailioPbx(peers, { users: [...], dids: { account: 'gw', numbers: ['+4930555'] },
 *     outside: { address: '127.0.0.1', port: uasPort } })
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeUdpPort, LOOPBACK } from './ports.ts'
import { requireBinary, type PeerProcess, type PeerSet } from './processes.ts'
import { kamailioModuleDir } from './kamailio-registrar.ts'
import { userEntry } from './gateway.ts'

export interface KamailioPbxUser {
  username: string
  password: string
}

export interface KamailioPbxOptions {
  /** The PBX's accounts (the gateway's trunk account, its phones). */
  users: KamailioPbxUser[]
  /** The gateway's DIDs: calls to these numbers go to the Contact registered for `account`. */
  dids: { account: string; numbers: string[] }
  /**
   * Where outside numbers go: a carrier by address (a SIPp UAS), or one of the PBX's own
   * registered users standing in for the carrier (a baresip that answers with a tone):
   * `lookup("location")` of that user.
   */
  outside: { address: string; port: number } | { user: string }
  /** Digest realm and the PBX's domain (default 'pbx.test'). */
  realm?: string
  /** The trunk-side address (default 127.0.0.3); the LAN side is always 127.0.0.1. */
  trunkAddress?: string
  /** UDP port on both addresses (default: a free one). */
  port?: number
}

/** One request as Kamailio logged it on arrival. */
export interface PbxRequest {
  method: string
  callId: string
  cseq: number
  ruri: string
  /** `address:port` it came from. */
  source: string
  from: string
  to: string
  /** Whether it carried Authorization / Proxy-Authorization. */
  auth: boolean
}

/** A routing decision Kamailio logged for an initial INVITE. */
export interface PbxRoute {
  kind: 'did' | 'outside' | 'location'
  callId: string
  /** The Request-URI it relayed to. */
  ruri: string
}

export interface KamailioPbx {
  readonly process: PeerProcess
  readonly port: number
  readonly realm: string
  readonly lanAddress: string
  readonly trunkAddress: string
  /** Requests logged so far, in order (`method` filters); UDP retransmissions counted once. */
  requests(method?: string): PbxRequest[]
  /** Challenges (401 / 407) sent so far: method and Call-ID of each. */
  challenges(): Array<{ method: string; callId: string }>
  /** Requests whose credentials were accepted: method, Call-ID and auth user. */
  authenticated(): Array<{ method: string; callId: string; user: string }>
  /** Routing decisions of initial INVITEs. */
  routes(): PbxRoute[]
  /** Replies Kamailio received from downstream (status, method, Call-ID). */
  replies(): Array<{ status: number; method: string; callId: string }>
  /** `kamcmd ul.dump`: the location table. */
  bindings(): Promise<string>
  /** Whether the location table holds `contactUri` (its `Address:` line in ul.dump). */
  hasContact(contactUri: string): Promise<boolean>
  /** Stops Kamailio and removes its directory. */
  close(): Promise<void>
}

/** The configuration text (kamailio.cfg); see the file comment. */
export function kamailioPbxConfig(o: Required<Omit<KamailioPbxOptions, 'port'>> & { port: number; ctlSocket: string; mpath: string }): string {
  const q = (s: string) => s.replace(/["\\]/g, '')
  const realm = q(o.realm)
  const passwords = o.users.map((u, i) => `${i === 0 ? '' : '  else '}if ($au == "${q(u.username)}") $var(pw) = "${q(u.password)}";`).join('\n')
  const didTest = o.dids.numbers.map((n) => `$rU == "${q(n)}"`).join(' || ') || '0'
  return `#!KAMAILIO
debug=2
log_stderror=yes
log_prefix=""
# One worker per socket: with two, an ACK and the BYE right behind it were handled by different
# workers and reached the SIPp UAS in the wrong order (a CI failure), as two real Kamailio
# workers may do — the tests here are about the trunk, not that race.
children=1
disable_tcp=yes
auto_aliases=no
server_signature=no
listen=udp:${LOOPBACK}:${o.port}
listen=udp:${o.trunkAddress}:${o.port}
alias="${realm}"
mpath="${o.mpath}"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("registrar", "default_expires", 60)
modparam("registrar", "max_expires", 3600)
modparam("auth", "algorithm", "MD5")
modparam("auth", "nonce_expire", 300)
modparam("auth", "qop", "auth")
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 30000)
modparam("ctl", "binrpc", "unix:${o.ctlSocket}")

request_route {
  if (is_present_hf("Authorization") || is_present_hf("Proxy-Authorization")) $var(auth) = "yes"; else $var(auth) = "no";
  xlog("L_NOTICE", "PB-REQ method=$rm callid=$ci cseq=$cs ruri=$ru src=$si:$sp from=$fu to=$tu auth=$var(auth) via=[$hdr(Via)]\\n");
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) { route(WITHINDLG); exit; }
  if (is_method("CANCEL")) {
    if (t_check_trans()) t_relay();
    exit;
  }
  if (is_method("ACK")) {
    if (t_check_trans()) t_relay();
    exit;
  }
  t_check_trans();
  if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if (is_method("REGISTER")) { route(REGISTRAR); exit; }
  if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }
  route(AUTH);
  record_route();
  if (${didTest}) {
    $rU = "${q(o.dids.account)}";
    if (!lookup("location")) { xlog("L_NOTICE", "PB-ROUTE kind=did callid=$ci ruri=none\\n"); sl_send_reply("480", "Trunk Not Registered"); exit; }
    xlog("L_NOTICE", "PB-ROUTE kind=did callid=$ci ruri=$ru\\n");
    route(RELAY);
  }
  if ($rU =~ "^\\+" || $rU =~ "^9") {
    if ($rU =~ "^9") $rU = $(rU{s.substr,1,0});
${'user' in o.outside ? `    $rU = "${q(o.outside.user)}";
    if (!lookup("location")) { sl_send_reply("480", "Carrier Offline"); exit; }` : `    $rd = "${o.outside.address}";
    $rp = ${o.outside.port};`}
    xlog("L_NOTICE", "PB-ROUTE kind=outside callid=$ci ruri=$ru\\n");
    route(RELAY);
  }
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  xlog("L_NOTICE", "PB-ROUTE kind=location callid=$ci ruri=$ru\\n");
  route(RELAY);
}

route[AUTH] {
  $var(pw) = "-no-such-user-";
${passwords}
  $var(checks) = 0;
  if (is_method("REGISTER")) $var(checks) = 1;
  if (!pv_auth_check("${realm}", "$var(pw)", "0", "$var(checks)")) {
    xlog("L_NOTICE", "PB-CHALLENGE method=$rm callid=$ci\\n");
    auth_challenge("${realm}", "1");
    exit;
  }
  xlog("L_NOTICE", "PB-AUTHED method=$rm callid=$ci user=$au\\n");
  consume_credentials();
}

route[REGISTRAR] {
  route(AUTH);
  if (!save("location")) sl_reply_error();
  exit;
}

route[WITHINDLG] {
  if (loose_route()) { route(RELAY); exit; }
  if (is_method("ACK")) {
    if (t_check_trans()) t_relay();
    exit;
  }
  sl_send_reply("404", "Not Here");
  exit;
}

route[RELAY] {
  if (!has_totag()) force_send_socket(udp:${o.trunkAddress}:${o.port});
  if (!t_relay()) sl_reply_error();
  exit;
}

onreply_route {
  xlog("L_NOTICE", "PB-REPLY status=$rs method=$rm callid=$ci\\n");
}
`
}

/**
 * Starts Kamailio as a small PBX (see the file comment) on 127.0.0.1 and `trunkAddress`.
 *
 * @throws Error naming the package when kamailio or kamcmd is not installed, or with
 *   Kamailio's output when it does not start
 */
export async function startKamailioPbx(peers: PeerSet, options: KamailioPbxOptions): Promise<KamailioPbx> {
  const kamailio = requireBinary('kamailio', 'kamailio')
  const kamcmd = requireBinary('kamcmd', 'kamailio')
  const mpath = kamailioModuleDir()
  const dir = mkdtempSync(join(tmpdir(), 'pb-kamailio-pbx-'))
  const port = options.port ?? await freeUdpPort()
  const realm = options.realm ?? 'pbx.test'
  const trunkAddress = options.trunkAddress ?? '127.0.0.3'
  const ctlSocket = join(dir, 'ctl.sock')
  const cfg = join(dir, 'kamailio.cfg')
  writeFileSync(cfg, kamailioPbxConfig({ users: options.users, dids: options.dids, outside: options.outside, realm, trunkAddress, port, ctlSocket, mpath }))
  const proc = peers.spawn('kamailio-pbx', [kamailio, '-f', cfg, '-DD', '-E', '-m', '32', '-M', '8', '-P', join(dir, 'kamailio.pid'), '-Y', dir])
  const deadline = Date.now() + 10_000
  for (;;) {
    if (!proc.running) throw new Error(`kamailio exited at start:\n${proc.tail(60)}`)
    const r = Bun.spawnSync([kamcmd, '-s', `unix:${ctlSocket}`, 'core.version'], { stdout: 'pipe', stderr: 'pipe' })
    if (r.exitCode === 0) break
    if (Date.now() > deadline) {
      await proc.kill()
      throw new Error(`kamailio did not start within 10 s:\n${proc.tail(60)}`)
    }
    await Bun.sleep(50)
  }
  const bindings = async (): Promise<string> => {
    const r = Bun.spawnSync([kamcmd, '-s', `unix:${ctlSocket}`, 'ul.dump'], { stdout: 'pipe', stderr: 'pipe' })
    if (r.exitCode !== 0) throw new Error(`kamcmd ul.dump failed: ${r.stderr.toString()}`)
    return r.stdout.toString()
  }
  const lines = (tag: string) => proc.output().split('\n').filter((l) => l.includes(`${tag} `)).map((l) => l.slice(l.indexOf(`${tag} `) + tag.length + 1))
  const fields = (text: string): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const m of text.matchAll(/(\w+)=(\S*)/g)) out[m[1]!] = m[2]!
    return out
  }
  return {
    process: proc,
    port, realm, lanAddress: LOOPBACK, trunkAddress,
    requests(method?: string) {
      // A UDP retransmission (same top Via branch, method and CSeq) is the same request.
      const seen = new Set<string>()
      const unique = lines('PB-REQ').filter((l) => {
        const key = `${/method=(\S+)/.exec(l)?.[1]} ${/cseq=(\S+)/.exec(l)?.[1]} ${/branch=([^;,\s\]]+)/.exec(l)?.[1] ?? l}`
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
      return unique.map(fields).map((f) => ({
        method: f.method!, callId: f.callid!, cseq: parseInt(f.cseq ?? '0', 10), ruri: f.ruri!, source: f.src!,
        from: f.from!, to: f.to!, auth: f.auth === 'yes',
      })).filter((r) => method === undefined || r.method === method)
    },
    challenges() {
      return lines('PB-CHALLENGE').map(fields).map((f) => ({ method: f.method!, callId: f.callid! }))
    },
    authenticated() {
      return lines('PB-AUTHED').map(fields).map((f) => ({ method: f.method!, callId: f.callid!, user: f.user! }))
    },
    routes() {
      return lines('PB-ROUTE').map(fields).map((f) => ({ kind: f.kind as PbxRoute['kind'], callId: f.callid!, ruri: f.ruri! }))
    },
    replies() {
      return lines('PB-REPLY').map(fields).map((f) => ({ status: parseInt(f.status ?? '0', 10), method: f.method!, callId: f.callid! }))
    },
    bindings,
    async hasContact(contactUri: string) {
      return (await bindings()).split('\n').some((l) => l.trim() === `Address: ${contactUri}`)
    },
    async close() {
      await proc.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The gateway side of a Kamailio-PBX test: one registration trunk, one international rule, one DID. */
export interface PbxTrunkSetup {
  /** Kamailio's port (the trunk's host is `trunkAddress`). */
  pbxPort: number
  trunkAddress?: string
  trunk: { name: string; username: string; password: string }
  /** Gateway users (users.yaml, realm patchbay.test), all with `password`. */
  users: string[]
  password: string
  /** Users of class international (the others: internal). */
  international: string[]
  /** The DID on the trunk and the user it rings. */
  did: { number: string; user: string }
}

/**
 * Writes users.yaml, trunks.yaml and dialplan.yaml for `s` into `dir` (the operator's files:
 * a registration trunk to the PBX, `00…` numbers to it in E.164 for class international,
 * the DID to a user) and returns the YAML texts, for `loadConfig(dir)`.
 */
export function writePbxTrunkConfig(dir: string, s: PbxTrunkSetup): { users: string; trunks: string; dialplan: string } {
  const yaml = (value: unknown) => Bun.YAML.stringify(value, null, 2)
  const texts = {
    users: yaml({ users: s.users.map((u) => userEntry(u, s.password)) }),
    trunks: yaml({
      trunks: [{
        name: s.trunk.name, type: 'registration', host: s.trunkAddress ?? '127.0.0.3', port: s.pbxPort, transport: 'udp',
        username: s.trunk.username, password: s.trunk.password, expires: 60, qualifySeconds: 0,
      }],
    }),
    dialplan: yaml({
      classes: ['internal', 'national', 'international'],
      defaultClass: 'internal',
      userClasses: Object.fromEntries(s.international.map((u) => [u, 'international'])),
      numbering: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' },
      outbound: [{ name: 'international', prefix: ['00'], minLength: 6, class: 'international', e164: true, trunks: [s.trunk.name] }],
      inbound: [{ name: 'main-number', trunk: s.trunk.name, did: [s.did.number], user: s.did.user }],
    }),
  }
  writeFileSync(join(dir, 'users.yaml'), texts.users)
  writeFileSync(join(dir, 'trunks.yaml'), texts.trunks)
  writeFileSync(join(dir, 'dialplan.yaml'), texts.dialplan)
  return texts
}
