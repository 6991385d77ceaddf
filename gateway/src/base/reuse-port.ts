/**
 * SO_REUSEPORT for Bun's UDP sockets. Bun 1.4.5's `Bun.udpSocket` declares no reusePort
 * option but takes socket `flags`, which its own node:dgram passes for `reusePort: true`:
 * 4 sets SO_REUSEPORT. Checked here (Linux): two processes binding one port with it each
 * received about half of 200 datagrams sent from different source ports; without it the
 * second bind fails with EADDRINUSE, so a Bun that ignored the field would fail loudly at the
 * second worker's start, never silently. (`Bun.listen` and `Bun.serve` take `reusePort`.)
 *
 * Spread into the options: `Bun.udpSocket({ hostname, port, ...REUSE_PORT, socket })`.
 */
export const REUSE_PORT: Record<string, unknown> = { flags: 4 }
