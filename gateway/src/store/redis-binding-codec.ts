/**
 * A location-service binding as stored in Redis by redis-binding-store.ts: one JSON object
 * per binding, fields in a fixed order, with `node`, the id of the gateway node that holds the
 * binding's flow. The stored text is the value the store compares before a delete, so
 * `encodeBinding(decodeBinding(raw))` must give `raw` back: same fields, same order.
 *
 * In memory (LocationService), a binding of this node has no `node`; one of another node has
 * it, and its flow id is prefixed with the node (`node-b/ws-3`) so that it never matches a
 * flow here (binding.ts, `Binding.node`).
 */
import type { Binding } from '../sip/registrar/binding.ts'

/**
 * The JSON text of `b` as stored: `node` is `b.node`, or `self` for a binding of this node;
 * the flow id is written as the holding node knows it (prefix removed); `nodeRoute` is the
 * Route through the holding node to the binding's flow (`selfUri`: this node's SIP URI, for its
 * own bindings over a connection), null for bindings reached directly (UDP).
 */
export function encodeBinding(b: Binding, self: string, selfUri: string | null = null): string {
  return JSON.stringify(bindingRow(b, self, selfUri))
}

/**
 * A stored binding as an object (the fields of encodeBinding's JSON, in its order): a Binding
 * whose `node` is always set and whose `nodeRoute` is null for a binding reached directly.
 */
export type BindingRow = Omit<Binding, 'node' | 'nodeRoute'> & { node: string; nodeRoute: string | null }

/**
 * The row of `b` as an object (what encodeBinding writes as JSON): for channels that carry
 * objects (the workers' IPC, store/relayed-binding-store.ts), where a JSON string inside a
 * JSON message would be escaped and parsed twice.
 */
export function bindingRow(b: Binding, self: string, selfUri: string | null = null): BindingRow {
  const node = b.node ?? self
  // How other nodes reach a binding over one of our connections: through us, to that flow.
  const nodeRoute = b.node !== undefined
    ? b.nodeRoute ?? null
    : b.flowId !== null && selfUri !== null ? `<${selfUri};lr;pb-flow=${b.flowId}>` : null
  const flowId = b.flowId !== null && b.node !== undefined && b.flowId.startsWith(`${b.node}/`)
    ? b.flowId.slice(b.node.length + 1)
    : b.flowId
  return {
    aor: b.aor, contact: b.contact, q: b.q, expiresAt: b.expiresAt, callId: b.callId, cseq: b.cseq,
    instanceId: b.instanceId, regId: b.regId, flowId, transport: b.transport,
    sourceAddress: b.sourceAddress, sourcePort: b.sourcePort, userAgent: b.userAgent, path: b.path,
    registeredAt: b.registeredAt, node, nodeRoute,
  }
}

/**
 * Whether two rows are the same registration state (compare-and-delete without their JSON):
 * the same contact, flow and node, refreshed by the same REGISTER (Call-ID, CSeq, expiry).
 */
export function sameBindingRow(a: BindingRow, b: BindingRow): boolean {
  return a.expiresAt === b.expiresAt && a.cseq === b.cseq && a.callId === b.callId && a.contact === b.contact &&
    a.flowId === b.flowId && a.node === b.node && a.registeredAt === b.registeredAt
}

/**
 * The binding of a stored row, for the cache of node `self`: its own rows come back without
 * `node` and with their flow id as is; other nodes' rows with `node` and a prefixed flow id.
 * Null when the text is not a binding (malformed JSON, no aor / contact / expiresAt / node).
 */
export function decodeBinding(raw: string, self: string): Binding | null {
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return null
  }
  return decodeBindingRow(v, self)
}

/** decodeBinding of a row already parsed (an object from IPC); null when it is not a binding. */
export function decodeBindingRow(row: unknown, self: string): Binding | null {
  if (typeof row !== 'object' || row === null) return null
  const v = row as Record<string, unknown>
  if (typeof v.aor !== 'string' || typeof v.contact !== 'string' || typeof v.expiresAt !== 'number' || typeof v.node !== 'string') return null
  const own = v.node === self
  const flowId = typeof v.flowId === 'string' ? v.flowId : null
  const b: Binding = {
    aor: v.aor,
    contact: v.contact,
    q: typeof v.q === 'number' ? v.q : 1,
    expiresAt: v.expiresAt,
    callId: String(v.callId ?? ''),
    cseq: typeof v.cseq === 'number' ? v.cseq : 0,
    instanceId: typeof v.instanceId === 'string' ? v.instanceId : null,
    regId: typeof v.regId === 'number' ? v.regId : null,
    flowId: own || flowId === null ? flowId : `${v.node}/${flowId}`,
    transport: String(v.transport ?? 'UDP'),
    sourceAddress: String(v.sourceAddress ?? ''),
    sourcePort: typeof v.sourcePort === 'number' ? v.sourcePort : 0,
    userAgent: typeof v.userAgent === 'string' ? v.userAgent : null,
    path: Array.isArray(v.path) ? v.path.filter((x): x is string => typeof x === 'string') : [],
    registeredAt: typeof v.registeredAt === 'number' ? v.registeredAt : v.expiresAt,
  }
  if (!own) {
    b.node = v.node
    if (typeof v.nodeRoute === 'string') b.nodeRoute = v.nodeRoute
  }
  return b
}
