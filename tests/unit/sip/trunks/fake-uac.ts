/**
 * A stand-in for the transaction layer in the trunk clients' unit tests: records each
 * request with its handler, and lets the test answer it, time it out or fail it.
 */
import type { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'
import { createResponse } from '../../../../gateway/src/sip/message/create-response.ts'
import type { Destination } from '../../../../gateway/src/sip/transport/flow.ts'
import type { ClientTransaction, ClientTransactionHandler } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import type { UacTransactions } from '../../../../gateway/src/sip/trunks/uac-request.ts'
import type { HeaderField } from '../../../../gateway/src/sip/syntax/types.ts'

export interface SentRequest {
  request: SipRequest
  destination: Destination
  handler: ClientTransactionHandler
  tx: ClientTransaction & { terminated: boolean }
}

export class FakeUac implements UacTransactions {
  readonly sent: SentRequest[] = []
  private n = 0

  newBranch(): string {
    return `z9hG4bK-t${++this.n}`
  }

  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction {
    const tx = {
      key: request.topVia.branch + ' ' + request.method, method: request.method, request, destination,
      state: 'Trying' as const, flow: null, terminated: false,
      terminate() { this.terminated = true },
    }
    this.sent.push({ request, destination, handler, tx })
    return tx
  }

  get last(): SentRequest {
    const s = this.sent.at(-1)
    if (s === undefined) throw new Error('nothing sent')
    return s
  }

  /** Answers the last request with `status` and `headers`. */
  respond(status: number, headers: HeaderField[] = [], reason?: string): void {
    const s = this.last
    s.handler.onResponse(createResponse(s.request, status, { toTag: 'srv', headers, ...(reason ? { reason } : {}) }), s.tx)
  }
}
