/**
 * TypeBox schemas for the operator's files in `sip-config/` and the merged configuration
 * the gateway runs with. The loader (`loader.ts`) validates every file against these and
 * reports errors as `file:line field: message`.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { DialPlanDefinition } from '../sip/dialplan/dialplan-definition.ts'
import type { TrunkDefinition } from '../sip/dialplan/trunk-definition.ts'

const Port = Type.Integer({ minimum: 0, maximum: 65535 })

export const TlsSchema = Type.Object({
  /** PEM certificate chain file. */
  cert: Type.String({ minLength: 1 }),
  /** PEM private key file. */
  key: Type.String({ minLength: 1 }),
}, { additionalProperties: false })

/** `sip-config/gateway.yaml` */
export const GatewayFileSchema = Type.Object({
  /** SIP domain this gateway is the registrar for (AORs sip:user@domain); also the digest realm. */
  domain: Type.String({ minLength: 1, default: 'patchbay.test' }),
  /**
   * Other host names and addresses that mean this gateway in a Request-URI or AOR (like
   * Kamailio's `alias`). The listen addresses, `localhost` and `publicAddress` are always aliases.
   */
  aliases: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  http: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Intersect([Port], { default: 8080 }),
    /** With a certificate, the HTTP server (and /sip WebSocket, as WSS) runs over TLS. */
    tls: Type.Optional(TlsSchema),
    /**
     * The SIP-over-WebSocket URLs (RFC 7118, `ws://` or `wss://`) of all the nodes sharing one
     * location service, in the order a softphone should try them; it fails over to the next
     * when its node goes away (issue 14). Absent: only this node's own `/sip`. The JSON
     * signaling URLs are derived from these by path (`/json` on the same host and port).
     */
    webSocketUrls: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  }, { additionalProperties: false, default: {} }),
  sip: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    udpPort: Type.Intersect([Port], { default: 5060 }),
    tcpPort: Type.Intersect([Port], { default: 5060 }),
    /** SIP over TLS listener (RFC 3261 §26.2); needs `tls`. */
    tlsPort: Type.Optional(Port),
    tls: Type.Optional(TlsSchema),
    /** Address written in Via/Record-Route/SDP when the gateway sits behind NAT. */
    publicAddress: Type.Optional(Type.String({ minLength: 1 })),
  }, { additionalProperties: false, default: {} }),
  timers: Type.Object({
    T1: Type.Integer({ minimum: 1, default: 500 }),
    T2: Type.Integer({ minimum: 1, default: 4000 }),
    T4: Type.Integer({ minimum: 1, default: 5000 }),
  }, { additionalProperties: false, default: {} }),
  registrar: Type.Object({
    /** Seconds; shorter requests get 423 with Min-Expires (RFC 3261 §10.3 step 7). */
    minExpires: Type.Integer({ minimum: 1, default: 60 }),
    maxExpires: Type.Integer({ minimum: 1, default: 3600 }),
    defaultExpires: Type.Integer({ minimum: 1, default: 600 }),
  }, { additionalProperties: false, default: {} }),
  auth: Type.Object({
    /** Digest realm; defaults to `domain`. */
    realm: Type.Optional(Type.String({ minLength: 1 })),
    /** Seconds a nonce stays valid (stale=true after that). */
    nonceLifetime: Type.Integer({ minimum: 1, default: 300 }),
    /** Algorithms offered in challenges, one WWW-Authenticate each, in this order (RFC 8760 §2.4). */
    algorithms: Type.Array(Type.Union([Type.Literal('SHA-256'), Type.Literal('MD5')]), { minItems: 1, default: ['SHA-256', 'MD5'] }),
    /**
     * User-Agent regular expressions (case-insensitive; "" stands for a request without
     * User-Agent) whose clients are challenged with MD5 only, because they fail on a
     * SHA-256 challenge instead of skipping it: Debian 12's baresip 1.0, and SIPp 3.6.1,
     * which sends no User-Agent.
     */
    md5OnlyUserAgents: Type.Array(Type.String(), { default: ['^baresip', '^$'] }),
  }, { additionalProperties: false, default: {} }),
  proxy: Type.Object({
    /** Seconds a forked INVITE may ring before the proxy CANCELs it and answers 408 (§16.6 Timer C). */
    timerC: Type.Integer({ minimum: 181, default: 181 }),
    /**
     * Source IP addresses trusted like Kamailio's `allow_trusted` (PBXs, SBCs, load
     * generators): their requests are not challenged. Everyone else's out-of-dialog requests
     * from a local user are (407), and only authenticated users may reach a non-local target.
     */
    trustedSources: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  }, { additionalProperties: false, default: {} }),
  /**
   * Defences against hostile traffic (gateway/src/sip/security/): bans, brute-force and
   * flood limits, the server transaction cap. Trusted sources (proxy.trustedSources) and
   * `allowList` are exempt from all of them.
   */
  security: Type.Object({
    /**
     * Source addresses (IPv4/IPv6) or CIDR prefixes (`192.0.2.0/24`) never banned,
     * rate-limited or refused at the transaction cap, in addition to proxy.trustedSources.
     * Unlike trusted sources, their requests are still challenged.
     */
    allowList: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    bans: Type.Object({
      /** What a banned source's requests get: `drop` (no answer) or `reject` (403 Forbidden). */
      action: Type.Union([Type.Literal('drop'), Type.Literal('reject')], { default: 'drop' }),
      /** Most bans held at once; a new ban beyond it drops the oldest. */
      maxEntries: Type.Integer({ minimum: 1, default: 10000 }),
    }, { additionalProperties: false, default: {} }),
    /** Failed digest attempts (wrong password or unknown user) per source and per user name. */
    bruteForce: Type.Object({
      enabled: Type.Boolean({ default: true }),
      /** Sliding window, seconds. */
      windowSeconds: Type.Integer({ minimum: 1, default: 300 }),
      /** Failures from one source within the window that ban it. */
      maxFailuresPerSource: Type.Integer({ minimum: 1, default: 10 }),
      /** Failures for one user name (from any source) after which each further failing source is banned. */
      maxFailuresPerUser: Type.Integer({ minimum: 1, default: 20 }),
      /** Ban length, seconds. */
      banSeconds: Type.Integer({ minimum: 1, default: 900 }),
    }, { additionalProperties: false, default: {} }),
    /** Per-source request rate (Kamailio pike): more than maxRequests per window bans the source. */
    flood: Type.Object({
      enabled: Type.Boolean({ default: true }),
      /** Sliding window, seconds (pike's sampling_time_unit). */
      windowSeconds: Type.Integer({ minimum: 1, default: 2 }),
      /** Requests one source may send per window (pike's reqs_density_per_unit). */
      maxRequests: Type.Integer({ minimum: 1, default: 2000 }),
      /** Ban length, seconds. */
      banSeconds: Type.Integer({ minimum: 1, default: 60 }),
    }, { additionalProperties: false, default: {} }),
    /** The global cap on concurrent server transactions: beyond it, new requests get 503. */
    overload: Type.Object({
      /**
       * Live server transactions (INVITE + non-INVITE) above which new requests get 503; 0: no
       * cap. Answered ones count while they linger to absorb retransmissions (64*T1 = 32 s
       * over UDP, about 1 KB each), so the default bounds that memory near 400 MB and leaves
       * room for some 6,000 calls/s (two server transactions per call).
       */
      maxServerTransactions: Type.Integer({ minimum: 0, default: 400000 }),
      /** Retry-After of that 503, seconds. */
      retryAfterSeconds: Type.Integer({ minimum: 1, default: 5 }),
    }, { additionalProperties: false, default: {} }),
    /** Most sources (and user names) each counter table tracks; memory stays bounded under a flood of addresses. */
    maxTrackedSources: Type.Integer({ minimum: 16, default: 65536 }),
  }, { additionalProperties: false, default: {} }),
  ice: Type.Object({
    /** The gateway's own STUN binding service (RFC 8489), on UDP. */
    stun: Type.Object({
      enabled: Type.Boolean({ default: true }),
      /** Listen address; defaults to sip.host. */
      host: Type.Optional(Type.String({ minLength: 1 })),
      port: Type.Intersect([Port], { default: 3478 }),
    }, { additionalProperties: false, default: {} }),
    /**
     * Extra STUN URLs handed to clients (`stun:host:port`). The gateway's own STUN service is
     * listed first when enabled (with publicAddress, else its listen host).
     */
    stunUrls: Type.Array(Type.String({ pattern: '^stuns?:' }), { default: [] }),
    /** TURN servers using the TURN REST API credentials (coturn `use-auth-secret`). */
    turn: Type.Object({
      /** `turn:host:port?transport=udp`, `turn:host:port?transport=tcp`, `turns:host:5349`. */
      urls: Type.Array(Type.String({ pattern: '^turns?:' }), { default: [] }),
      /** The shared secret (coturn `static-auth-secret`). Prefer `secretEnv`. Never logged. */
      secret: Type.Optional(Type.String({ minLength: 8 })),
      /** Name of an environment variable holding the secret. */
      secretEnv: Type.Optional(Type.String({ minLength: 1 })),
      /** Credential lifetime in seconds (the expiry in the REST username). */
      ttlSeconds: Type.Integer({ minimum: 60, default: 86400 }),
    }, { additionalProperties: false, default: {} }),
  }, { additionalProperties: false, default: {} }),
  media: Type.Object({
    /**
     * Which engine anchors calls that cross WebRTC <-> plain RTP: `embedded` (werift in
     * process), `rtpengine` (the daemons in `rtpengine`), or `none` (SDP passes untouched).
     */
    driver: Type.Union([Type.Literal('embedded'), Type.Literal('rtpengine'), Type.Literal('none')], { default: 'embedded' }),
    /** `auto`: anchor only calls that cross WebRTC <-> RTP; `always`: every call; `never`. */
    anchor: Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')], { default: 'auto' }),
    /** Address the embedded driver binds its RTP sockets and ICE candidates to; defaults to sip.host. */
    bindAddress: Type.Optional(Type.String({ minLength: 1 })),
    rtpPortMin: Type.Integer({ minimum: 1024, maximum: 65534, default: 20000 }),
    rtpPortMax: Type.Integer({ minimum: 1025, maximum: 65535, default: 29999 }),
    /**
     * Session timeout, seconds: an anchored call still up after this long is ended with a BYE
     * to both sides and its relay released (a lost BYE must not hold ports forever). 0: never.
     */
    sessionTimeout: Type.Integer({ minimum: 0, default: 14400 }),
    /** rtpengine ng control addresses; calls are spread over the live ones. */
    rtpengine: Type.Array(Type.Object({
      host: Type.String({ minLength: 1 }),
      port: Port,
    }, { additionalProperties: false }), { default: [] }),
  }, { additionalProperties: false, default: {} }),
  store: Type.Object({
    /** bun:sqlite database file; ":memory:" keeps nothing across restarts. */
    path: Type.String({ default: '.data/patchbay.sqlite' }),
    /**
     * Several gateway nodes sharing one location service on Redis (store/redis-binding-store.ts):
     * bindings are kept in Redis instead of `path` (which then holds only call records), and
     * each node sees the others' registrations. Absent: bun:sqlite, a single node.
     */
    redis: Type.Optional(Type.Object({
      /** redis://[user:password@]host:port[/db], rediss:// for TLS, redis+unix:///path. */
      url: Type.String({ pattern: '^(redis|rediss|redis\\+tls|redis\\+unix|redis\\+tls\\+unix)://' }),
      /**
       * This node's name in the shared store (which node holds a binding's flow); unique
       * among the nodes and the same across restarts. Default: the host name.
       */
      nodeId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' })),
    }, { additionalProperties: false })),
  }, { additionalProperties: false, default: {} }),
  /**
   * Worker processes on this machine (docs/architecture.md §4b): `count` processes share the
   * SIP UDP, TCP and HTTP/WebSocket listeners (SO_REUSEPORT); `auto` is one per core, 1 runs
   * the gateway in a single process. Each worker also binds a private UDP port
   * (`udpPortBase` + its index) that it writes in its Via and Record-Route, so responses and
   * in-dialog requests reach the worker holding their state. Only the CLI starts workers;
   * `startGateway` (tests, embedding) always runs one process.
   */
  workers: Type.Object({
    count: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 64 })], { default: 'auto' }),
    /** First private UDP port; default sip.udpPort + 10 (free ports when sip.udpPort is 0). */
    udpPortBase: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  }, { additionalProperties: false, default: {} }),
  /** Bearer token for the admin REST API (`/api/registrations`, `/api/security/bans`); absent: those endpoints answer 401. */
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
  /**
   * SIGTERM: new out-of-dialog requests get 503 with Retry-After while calls being set up
   * finish, for at most `graceSeconds`; then the bindings store is flushed and the process
   * exits 0.
   */
  shutdown: Type.Object({
    graceSeconds: Type.Number({ minimum: 0, maximum: 300, default: 10 }),
    /** Retry-After (seconds) of the 503 sent to new requests while shutting down. */
    retryAfterSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 5 }),
  }, { additionalProperties: false, default: {} }),
  /**
   * JSON signaling over WebSocket at `/json` (docs/json-signaling.md): the comparison mode to
   * SIP over WebSocket, with the same accounts and location service.
   */
  jsonSignaling: Type.Object({
    enabled: Type.Boolean({ default: true }),
    /** Seconds a JSON session outlives its WebSocket, waiting for `attach` (a page reload). */
    graceSeconds: Type.Integer({ minimum: 0, maximum: 600, default: 30 }),
  }, { additionalProperties: false, default: {} }),
  /** Call detail records (bun:sqlite, GET /api/cdrs): one row per call, answered or not. */
  cdr: Type.Object({
    enabled: Type.Boolean({ default: true }),
    /** Database file; default `cdrs.sqlite` beside `store.path` (`:memory:` with it). */
    path: Type.Optional(Type.String({ minLength: 1 })),
    /** Rows older than this are deleted, days; 0 keeps them forever. */
    maxAgeDays: Type.Integer({ minimum: 0, maximum: 36_500, default: 90 }),
    /** A call with no end after this long (a phone vanished without BYE) is closed, seconds; 0: never. */
    maxCallSeconds: Type.Integer({ minimum: 0, maximum: 604_800, default: 14_400 }),
  }, { additionalProperties: false, default: {} }),
  /**
   * DNS for next hops that are names (RFC 3263: NAPTR, SRV, A), e.g. trunks and SIP URIs of
   * other domains (gateway/src/sip/dns/).
   */
  dns: Type.Object({
    /** DNS servers as `address` or `address:port` (`[v6]:port`); empty: the system resolver. */
    servers: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Per try, milliseconds. */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
    /** Tries per server. */
    tries: Type.Integer({ minimum: 1, maximum: 5, default: 2 }),
    /** TTL for NAPTR and SRV answers, which node:dns gives without one, seconds. */
    defaultTtlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
    /** Also look up AAAA records. */
    ipv6: Type.Boolean({ default: false }),
  }, { additionalProperties: false, default: {} }),
  log: Type.Object({
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], { default: 'info' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false })

/**
 * One user in `sip-config/users.yaml`. Credentials are stored as HA1 hashes
 * (RFC 7616 §3.4.2: H(username ":" realm ":" password)), one per algorithm.
 */
export const UserSchema = Type.Object({
  username: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._~!$&\'()*+,;=%-]+$' }),
  displayName: Type.Optional(Type.String()),
  /** hex MD5(username:realm:password) */
  ha1: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  /** hex SHA-256(username:realm:password) */
  ha1Sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** Overrides media.anchor for calls from or to this user. */
  mediaAnchor: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')])),
}, { additionalProperties: false })

/** `sip-config/users.yaml` */
export const UsersFileSchema = Type.Object({
  users: Type.Array(UserSchema, { default: [] }),
}, { additionalProperties: false })

export type GatewayFile = Static<typeof GatewayFileSchema>
export type UserEntry = Static<typeof UserSchema>
export type UsersFile = Static<typeof UsersFileSchema>

/** The configuration the gateway runs with: gateway.yaml + users.yaml + trunks.yaml + dialplan.yaml, defaults applied. */
export interface GatewayConfig extends GatewayFile {
  users: UserEntry[]
  /** trunks.yaml; [] when absent. */
  trunks: TrunkDefinition[]
  /** dialplan.yaml, with the users' names and the trunks' policies; no rules when absent (`new DialPlan(config.dialPlan)`). */
  dialPlan: DialPlanDefinition
  /** Realm used in challenges (auth.realm ?? domain). */
  realm: string
  /** True when any user's HA1 is one of the README's demo passwords (see demo-users.ts). */
  usesDemoPasswords: boolean
  /** Files the configuration came from (empty for the embedded defaults). */
  sources: string[]
}
