/**
 * Which gateway node's WebSocket URL to connect to next (issue 14: several nodes on one
 * location service). The client-config lists every node's URL in the order to try them; the
 * softphone stays on its node while it works, retries it once after losing it (a restart or a
 * network blip comes back at once), and moves on to the next node when that retry fails too,
 * cycling through the list (the caller keeps its back-off, `ReconnectSchedule`, between
 * attempts). Pure state: no timers, no sockets.
 */

/** Failed connection attempts to one URL before moving on to the next. */
export const FAILED_ATTEMPTS_BEFORE_MOVING = 1

/**
 * The current URL of an ordered list and the move to the next one.
 *
 * Shapes: `urls` is a non-empty list of `ws:`/`wss:` URLs (a one-element list never moves).
 * Throws `RangeError` for an empty list.
 */
export class ServerRotation {
  private index = 0
  private failures = 0

  constructor(private readonly urls: readonly string[], private readonly failuresBeforeMoving = FAILED_ATTEMPTS_BEFORE_MOVING) {
    if (urls.length === 0) throw new RangeError('ServerRotation needs at least one URL')
  }

  /** The URL to connect to now. */
  get current(): string {
    return this.urls[this.index]!
  }

  /** How many URLs there are to cycle through. */
  get size(): number {
    return this.urls.length
  }

  /** The connection on `current` works (open and registered): it stays the one to use. */
  succeeded(): void {
    this.failures = 0
  }

  /**
   * An attempt to connect (or register) on `current` failed. After `failuresBeforeMoving`
   * consecutive failures there, moves to the next URL (wrapping round). Returns true when
   * the URL changed (the caller needs a new transport for it).
   */
  failed(): boolean {
    this.failures += 1
    if (this.urls.length < 2 || this.failures < this.failuresBeforeMoving) return false
    this.failures = 0
    this.index = (this.index + 1) % this.urls.length
    return true
  }
}
