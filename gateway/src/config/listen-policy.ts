/**
 * The demo-password listen policy: the README publishes the demo passwords, so a gateway
 * whose users.yaml still holds one of them may listen only on loopback addresses. Started
 * otherwise, anyone on the network could register as alice and place calls.
 */
import type { GatewayConfig } from './schema.ts'
import { isDemoCredential } from './demo-users.ts'

/**
 * True for loopback listen addresses: `localhost`, IPv4 127.0.0.0/8, IPv6 `::1` (with or
 * without brackets, in any zero-compressed spelling) and IPv4-mapped `::ffff:127.x.y.z`.
 * `0.0.0.0`, `::` and every other address are not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h)
  if (v4) return v4.slice(1).every((p) => Number(p) <= 255) && Number(v4[1]) === 127
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(h)
  if (mapped) return isLoopbackHost(mapped[1]!)
  if (h.includes(':')) return isIpv6Loopback(h)
  return false
}

function isIpv6Loopback(h: string): boolean {
  if (!/^[0-9a-f:]+$/.test(h)) return false
  const halves = h.split('::')
  if (halves.length > 2) return false
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : []
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return false
  return groups.every((g, i) => parseInt(g, 16) === (i === 7 ? 1 : 0))
}

/**
 * Refuses non-loopback listeners while demo passwords are in use.
 * @returns null when the configuration may start; otherwise the error text to print
 *   (naming the listeners and the demo accounts), and the gateway must not start.
 */
export function checkListenPolicy(config: GatewayConfig): string | null {
  if (!config.usesDemoPasswords) return null
  const listeners: [string, string][] = [
    ['http.host', config.http.host],
    ['sip.host', config.sip.host],
  ]
  if (config.ice.stun.enabled && config.ice.stun.host !== undefined) listeners.push(['ice.stun.host', config.ice.stun.host])
  const exposed = listeners.filter(([, host]) => !isLoopbackHost(host))
  if (exposed.length === 0) return null
  const demoUsers = config.users.filter((u) => isDemoCredential(u, config.realm)).map((u) => u.username)
  const where = exposed.map(([field, host]) => `${field} ${host}`).join(', ')
  return (
    `refusing to listen on ${where}: users.yaml still has the published demo password of ` +
    `${demoUsers.join(', ')}. Give ${demoUsers.length === 1 ? 'that user' : 'those users'} new passwords ` +
    `(bun gateway/src/config/hash-password.ts USER PASSWORD REALM) or listen on 127.0.0.1 only.`
  )
}
