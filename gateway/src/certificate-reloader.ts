/**
 * Certificate renewal without dropping connections (SIGHUP; renewed Let's Encrypt files):
 * the SIP over TLS listener and the HTTPS/WSS server get new certificates, existing
 * connections keep theirs. Used by the composition root (main.ts) only.
 */
import type { GatewayConfig } from './config/schema.ts'
import { logger } from './base/log.ts'
import { readTlsFiles, type TlsFiles } from './base/tls-files.ts'
import type { Gateway } from './gateway.ts'
import type { TcpTransport } from './sip/transport/tcp-transport.ts'

const log = logger('gateway.tls')

/**
 * Swaps TLS listeners for new certificates. Bun cannot change the certificate of a running
 * listener (`reload({ tls })` keeps the old one, Bun 1.4.5), so a second listener with the new
 * certificate is bound to the same port (SO_REUSEPORT: Bun.listen for SIP over TLS, see
 * TcpTransport.replaceCertificate; Elysia's Bun.serve sets it by default) and the old one
 * stops accepting with `stop(false)`, which leaves its connections open.
 */
export class CertificateReloader {
  private sipFiles: TlsFiles | undefined
  private httpFiles: TlsFiles | undefined
  /** HTTP servers replaced by a reload, still holding their WebSockets; closed by stop(). */
  private readonly retiredHttp: NonNullable<Gateway['http']['server']>[] = []

  constructor(private readonly g: Gateway, private readonly tls: TcpTransport | null, config: GatewayConfig) {
    this.sipFiles = tls ? config.sip.tls : undefined
    this.httpFiles = config.http.tls
  }

  reload(next?: GatewayConfig): { sip: boolean; http: boolean } {
    const result = { sip: false, http: false }
    const sipFiles = next?.sip.tls ?? this.sipFiles
    if (this.tls && sipFiles) {
      const read = readTlsFiles(sipFiles)
      if (!read.ok) log.error('certificate reload refused; keeping the running certificate', { listener: 'sip', file: read.file, error: read.error })
      else {
        try {
          this.tls.replaceCertificate(read.credentials)
          this.sipFiles = sipFiles
          result.sip = true
        } catch (e) {
          log.error('certificate reload failed; keeping the running certificate', { listener: 'sip', file: sipFiles.cert, error: String(e) })
        }
      }
    }
    // Only an HTTPS server gets a new certificate: HTTP -> HTTPS needs a restart.
    const httpFiles = this.httpFiles ? (next?.http.tls ?? this.httpFiles) : undefined
    const old = this.g.http.server
    if (httpFiles && old) {
      const read = readTlsFiles(httpFiles)
      if (!read.ok) log.error('certificate reload refused; keeping the running certificate', { listener: 'http', file: read.file, error: read.error })
      else {
        // Elysia's listen() adds a process 'beforeExit' listener each time; the first one
        // (stopping the current server) is enough.
        const exitListeners = process.listeners('beforeExit')
        try {
          this.g.http.listen({ hostname: this.g.config.http.host, port: this.g.httpPort, tls: read.credentials })
          this.httpFiles = httpFiles
          result.http = true
        } catch (e) {
          log.error('certificate reload failed; keeping the running certificate', { listener: 'http', file: httpFiles.cert, error: String(e) })
        }
        for (const l of process.listeners('beforeExit')) if (!exitListeners.includes(l)) process.off('beforeExit', l)
        if (result.http) {
          // Stops accepting; open WebSockets and requests in progress go on. Idle keep-alive
          // connections are closed so that browsers reconnect to the new server.
          void old.stop(false)
          old.closeIdleConnections()
          this.retiredHttp.push(old)
        }
      }
    }
    if (result.sip || result.http) {
      log.info('certificates reloaded', {
        ...(result.sip ? { sip: this.sipFiles!.cert } : {}),
        ...(result.http ? { http: this.httpFiles!.cert } : {}),
      })
    }
    return result
  }

  async stop(): Promise<void> {
    for (const s of this.retiredHttp.splice(0)) await s.stop(true)
  }
}
