/**
 * The client transaction handler of the stateful proxy's branches (RFC 3261 §16.7), and the
 * upstream relay of responses (§16.7 item 9: our Via removed). The proxy's §16.7 processing
 * stays in stateful-proxy.ts, behind the BranchProcessor interface declared here.
 */
import type { SipResponse } from '../message/sip-message.ts'
import type { ClientTransaction, ServerTransaction } from '../transaction/transaction-user.ts'
import type { Branch, BranchHandler, ResponseContext } from './response-context.ts'
import type { ForwardOptions } from './target.ts'

/** What a branch handler asks of the proxy (StatefulProxy implements it). */
export interface BranchProcessor {
  processBranchResponse(ctx: ResponseContext, branch: Branch, res: SipResponse, opts: ForwardOptions): void
  onBranchFailure(ctx: ResponseContext, branch: Branch, status: number, opts: ForwardOptions, reason?: string): void
}

/** Removes our Via (§16.7 item 9) and sends `res` through the server transaction. */
export function relayUpstream(serverTx: ServerTransaction, res: SipResponse): void {
  if (res.headers.length > 0 && isOurVia(res)) res.removeFirst('via')
  serverTx.respond(res)
}

/**
 * The client transaction handler of one branch. While the response context is open it hands
 * every event to the proxy's §16.7 processing; once the context is finished (`detach`) it
 * keeps only the server transaction, and a 2xx that still arrives — a retransmission, or
 * another fork's answer (RFC 6026 §8.4: passed up in Accepted; §16.7 item 5: forwarded) — is
 * relayed upstream with nothing else held. Other late responses are ignored then, as §16.7
 * would (the branch is final).
 */
export class ProxyBranchHandler implements BranchHandler {
  private ctx: ResponseContext | null
  private branch: Branch | null
  private readonly serverTx: ServerTransaction | null

  /** @param transportErrorStatus 480 towards a connection we hold, 503 otherwise (§8.1.3.1) */
  constructor(private readonly proxy: BranchProcessor, ctx: ResponseContext, branch: Branch, private readonly transportErrorStatus: number) {
    this.ctx = ctx
    this.branch = branch
    this.serverTx = ctx.serverTx
  }

  onResponse(res: SipResponse, tx: ClientTransaction): void {
    const ctx = this.ctx
    const branch = this.branch
    if (ctx === null || branch === null) {
      if (res.status >= 200 && res.status < 300 && this.serverTx !== null) relayUpstream(this.serverTx, res)
      return
    }
    const media = branch.media
    if (media === null) return this.proxy.processBranchResponse(ctx, branch, res, ctx.options)
    // The answer may spend a while in the media driver before §16.7 sees it: the outcome is
    // known now, so no branch starts meanwhile (see mayStartBranch).
    if (ctx.isInvite && res.status >= 200 && (res.status < 300 || res.status >= 600)) ctx.decided = true
    media.onResponse(res, tx, () => this.proxy.processBranchResponse(ctx, branch, res, ctx.options))
  }

  onTimeout(): void {
    if (this.ctx !== null && this.branch !== null) this.proxy.onBranchFailure(this.ctx, this.branch, 408, this.ctx.options)
  }

  onTransportError(): void {
    if (this.ctx !== null && this.branch !== null) this.proxy.onBranchFailure(this.ctx, this.branch, this.transportErrorStatus, this.ctx.options)
  }

  detach(): void {
    if (this.branch !== null) this.branch.handler = null
    this.ctx = null
    this.branch = null
  }
}


function isOurVia(res: SipResponse): boolean {
  const b = res.topVia.branch
  return b !== null && b.startsWith('z9hG4bK-pb')
}

