/**
 * Patchbay gateway CLI: `bun gateway/src/main.ts [--config DIR]` (`bun run start`).
 *
 * Without --config it runs the embedded defaults (loopback only, demo users). With a config
 * folder (see sip-config/README.md), SIGHUP reloads it; a bad file is reported with file,
 * line and field and the gateway keeps running the configuration it had.
 */
import { loadConfig, formatConfigError } from './config/loader.ts'
import { startGateway } from './gateway.ts'
import { logger } from './base/log.ts'

const log = logger('gateway.main')

function usage(): never {
  console.error('usage: bun gateway/src/main.ts [--config DIR]\n  DIR holds gateway.yaml and users.yaml (see sip-config/README.md)')
  process.exit(2)
}

function parseArgs(argv: string[]): { configDir: string | null } {
  let configDir: string | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--config' || a === '-c') {
      const v = argv[++i]
      if (v === undefined) usage()
      configDir = v
    } else if (a.startsWith('--config=')) configDir = a.slice('--config='.length)
    else if (a === '--help' || a === '-h') usage()
    else usage()
  }
  return { configDir }
}

const { configDir } = parseArgs(process.argv.slice(2))
const loaded = loadConfig(configDir)
if (!loaded.ok) {
  for (const e of loaded.errors) console.error(formatConfigError(e))
  console.error(`patchbay: configuration refused (${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'})`)
  process.exit(1)
}

let gateway: Awaited<ReturnType<typeof startGateway>>
try {
  gateway = await startGateway(loaded.config)
} catch (e) {
  console.error(`patchbay: ${(e as Error).message}`)
  process.exit(1)
}

const c = gateway.config
console.log(`Patchbay gateway for ${c.domain}
  softphone      ${gateway.httpUrl}/
  SIP WebSocket  ${gateway.wsUrl}
  SIP UDP        ${c.sip.host}:${gateway.udpPort}
  SIP TCP        ${c.sip.host}:${gateway.tcpPort}${gateway.tlsPort ? `\n  SIP TLS        ${c.sip.host}:${gateway.tlsPort}` : ''}${gateway.stunPort ? `\n  STUN           ${c.ice.stun.host ?? c.sip.host}:${gateway.stunPort}` : ''}
  config         ${configDir ?? 'embedded defaults (demo users alice, bob, carol)'}`)

process.on('SIGHUP', () => {
  if (configDir === null) {
    log.info('SIGHUP ignored: running the embedded defaults')
    return
  }
  const next = loadConfig(configDir)
  if (!next.ok) {
    for (const e of next.errors) log.error('configuration reload refused; keeping the running one', { error: formatConfigError(e) })
    return
  }
  const restart = gateway.reload(next.config)
  log.info('configuration reloaded', { needsRestart: restart })
})

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void gateway.stop().then(() => process.exit(0))
  })
}
