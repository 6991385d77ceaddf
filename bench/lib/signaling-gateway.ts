/**
 * The gateway for bench:signaling: the real CLI as a subprocess with startPatchbay's
 * configuration (bench/lib/patchbay.ts: benchGatewayYaml + benchUsersYaml), that can be
 * restarted on the SAME ports (the recovery measurement: SIGTERM, start again, clients
 * reconnect). The first start binds free ports (port 0) and reads them from the banner; a
 * restart writes them into gateway.yaml.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchGatewayYaml, benchUsersYaml, REPO_ROOT } from './patchbay.ts'
import { PeerProcess } from './peer-process.ts'
import { waitForSipOptions } from './sip-ping.ts'

/** Ports the gateway bound. */
export interface GatewayPorts {
  udp: number
  tcp: number
  http: number
}

/** A running gateway subprocess that can be restarted on its ports. */
export class SignalingGateway {
  private proc: PeerProcess | null = null
  ports: GatewayPorts | null = null

  private constructor(private readonly dir: string) {}

  /** Writes the configuration (`users` bench users) and starts the gateway. */
  static async start(users: number): Promise<SignalingGateway> {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-signaling-'))
    writeFileSync(join(dir, 'users.yaml'), benchUsersYaml(users))
    const g = new SignalingGateway(dir)
    try {
      await g.launch()
    } catch (e) {
      rmSync(dir, { recursive: true, force: true })
      throw e
    }
    return g
  }

  /** The gateway's pid (changes on restart). */
  get pid(): number {
    if (!this.proc) throw new Error('gateway not running')
    return this.proc.pid
  }

  /** The gateway's last output lines. */
  tail(lines = 30): string {
    return this.proc?.tail(lines) ?? ''
  }

  /** Everything the gateway printed (last 256 kB). */
  output(): string {
    return this.proc?.output() ?? ''
  }

  private async launch(): Promise<void> {
    // The gateway's default challenge order (SHA-256, then MD5), not SIPp's MD5-first: SIP.js
    // keeps only the LAST WWW-Authenticate / Proxy-Authenticate header and aborts unless it is MD5.
    let yaml = benchGatewayYaml({}).replace('algorithms: [MD5, SHA-256]', 'algorithms: [SHA-256, MD5]')
    if (this.ports) {
      yaml = yaml
        .replace(/^( {2}port:) 0$/m, `$1 ${this.ports.http}`)
        .replace(/^( {2}udpPort:) 0$/m, `$1 ${this.ports.udp}`)
        .replace(/^( {2}tcpPort:) 0$/m, `$1 ${this.ports.tcp}`)
    }
    writeFileSync(join(this.dir, 'gateway.yaml'), yaml)
    const proc = new PeerProcess('patchbay', [process.execPath, join(REPO_ROOT, 'gateway', 'src', 'main.ts'), '--config', this.dir], { cwd: REPO_ROOT })
    this.proc = proc
    try {
      const udp = Number((await proc.waitForOutput(/SIP UDP\s+[\d.]+:(\d+)/, 60_000))[1])
      const tcp = Number((await proc.waitForOutput(/SIP TCP\s+[\d.]+:(\d+)/, 5_000))[1])
      const http = Number((await proc.waitForOutput(/softphone\s+https?:\/\/[\d.]+:(\d+)/, 5_000))[1])
      this.ports = { udp, tcp, http }
      await waitForSipOptions(udp, 10_000)
    } catch (e) {
      await proc.stop(5_000)
      this.proc = null
      throw e
    }
  }

  /** SIGTERM (SIGKILL after 15 s); resolves when the process has exited. */
  async stopProcess(): Promise<void> {
    await this.proc?.stop(15_000)
    this.proc = null
  }

  /** Starts the gateway again on the same ports (after stopProcess). */
  async restart(): Promise<void> {
    await this.launch()
  }

  /** Stops the gateway and removes its configuration folder. */
  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
