/**
 * Starts a local coturn for development: `bun scripts/turn.ts [--config DIR] [--port N]`.
 *
 * - Listens on 127.0.0.1:3479 (UDP and TCP; `--port` to change), relays on 127.0.0.1 ports
 *   49160-49200, TURN REST credentials (`use-auth-secret`), no TLS/DTLS, no CLI.
 * - The shared secret comes from PATCHBAY_TURN_SECRET, else from the gateway configuration
 *   (`ice.turn.secretEnv` / `ice.turn.secret` in DIR/gateway.yaml, DIR = sip-config by
 *   default). It is written to a private (0600) coturn config file, not the command line
 *   (where `ps` would show it), and it is never printed.
 * - Prints the `ice:` YAML snippet that points the gateway at this coturn, then runs until
 *   Ctrl-C (SIGINT) or SIGTERM, which stop coturn and remove the temporary files.
 *
 * See sip-config/coturn.md for the settings and for a production setup.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatConfigError, loadConfig } from '../gateway/src/config/loader.ts'
import { resolveTurnSecret } from '../gateway/src/ice/ice-servers.ts'
import { StunClass, StunMethod, decodeStunMessage, encodeStunMessage, newTransactionId } from '../gateway/src/ice/stun-message.ts'

const ENV_NAME = 'PATCHBAY_TURN_SECRET'

function fail(message: string): never {
  process.stderr.write(`turn: ${message}\n`)
  process.exit(1)
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const configDir = argValue('--config') ?? (existsSync('sip-config') ? 'sip-config' : null)
const port = Number(argValue('--port') ?? 3479)
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`bad --port ${argValue('--port')}`)

const loaded = loadConfig(configDir)
if (!loaded.ok) fail(`configuration errors:\n${loaded.errors.map(formatConfigError).join('\n')}`)
const config = loaded.config

let secret = process.env[ENV_NAME]
let secretSource = `$${ENV_NAME}`
if (secret === undefined || secret === '') {
  secret = resolveTurnSecret(config, process.env)
  secretSource = config.ice.turn.secretEnv !== undefined && process.env[config.ice.turn.secretEnv] ? `$${config.ice.turn.secretEnv}` : 'ice.turn.secret in gateway.yaml'
}
if (secret === undefined || secret === '') {
  fail(
    `no TURN secret: set ${ENV_NAME} (e.g. \`export ${ENV_NAME}=$(openssl rand -hex 24)\`) ` +
      `or ice.turn.secret / ice.turn.secretEnv in ${configDir ?? 'sip-config'}/gateway.yaml`,
  )
}
if (/[\r\n]/.test(secret)) fail('the TURN secret must be a single line')
if (Bun.which('turnserver') === null) fail('turnserver not found: install coturn with `apt-get update && apt-get install -y coturn`')

const realm = config.realm
const workDir = mkdtempSync(join(tmpdir(), 'patchbay-turn-'))
const confFile = join(workDir, 'turnserver.conf')
writeFileSync(
  confFile,
  [
    'listening-ip=127.0.0.1',
    'relay-ip=127.0.0.1',
    `listening-port=${port}`,
    'min-port=49160',
    'max-port=49200',
    'fingerprint',
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    `realm=${realm}`,
    'no-tls',
    'no-dtls',
    'no-cli',
    // Local testing relays between browsers on this machine: allow 127.0.0.1 peers.
    'allow-loopback-peers',
    `pidfile=${join(workDir, 'turnserver.pid')}`,
    `userdb=${join(workDir, 'turndb')}`,
    'log-file=stdout',
    'simple-log',
    '',
  ].join('\n'),
  { mode: 0o600 },
)
chmodSync(confFile, 0o600)

// coturn logs go to stdout; shown with --verbose.
const proc = Bun.spawn(['turnserver', '-c', confFile], { stdout: process.argv.includes('--verbose') ? 'inherit' : 'ignore', stderr: 'inherit' })

let stopping = false
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
    await proc.exited
    clearTimeout(timer)
    rmSync(workDir, { recursive: true, force: true })
  }
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
void proc.exited.then((code) => {
  if (!stopping) {
    process.stderr.write(`turn: turnserver exited with code ${code}\n`)
    void stop(code === 0 ? 1 : code)
  }
})

/** Waits until coturn answers a STUN Binding request on 127.0.0.1:port. */
async function waitReady(timeoutMs: number): Promise<boolean> {
  let ready = false
  const sock = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(_s, data) {
        const r = decodeStunMessage(new Uint8Array(data))
        if (r.ok && r.message.cls === StunClass.SuccessResponse) ready = true
      },
      error() {}, // ICMP unreachable while coturn starts
    },
  })
  const deadline = Date.now() + timeoutMs
  while (!ready && Date.now() < deadline && !stopping) {
    sock.send(encodeStunMessage({ method: StunMethod.Binding, cls: StunClass.Request, transactionId: newTransactionId(), attributes: [] }), port, '127.0.0.1')
    await Bun.sleep(100)
  }
  sock.close()
  return ready
}

if (!(await waitReady(10000))) {
  process.stderr.write(`turn: coturn did not answer on 127.0.0.1:${port}\n`)
  await stop(1)
}

const secretLine =
  secretSource === 'ice.turn.secret in gateway.yaml'
    ? '    # secret: as already set in gateway.yaml'
    : `    secretEnv: ${secretSource.slice(1)}   # the gateway must see the same variable`
process.stdout.write(
  [
    `coturn is running on 127.0.0.1:${port} (UDP and TCP), realm ${realm}, secret from ${secretSource}.`,
    'Put this in sip-config/gateway.yaml (under the top level) so the gateway hands it out:',
    '',
    'ice:',
    '  turn:',
    '    urls:',
    `      - turn:127.0.0.1:${port}?transport=udp`,
    `      - turn:127.0.0.1:${port}?transport=tcp`,
    secretLine,
    `    ttlSeconds: ${config.ice.turn.ttlSeconds}`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
)
