/**
 * Polls while its element is connected (Lit ReactiveController): runs `task` at once and
 * then every `intervalMs` after the previous run settled, so a slow gateway never gets
 * overlapping requests. The element is re-rendered after each run.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

export class PollController implements ReactiveController {
  private timer: ReturnType<typeof setTimeout> | undefined
  private connected = false
  private running: Promise<void> | null = null

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
  ) {
    host.addController(this)
  }

  hostConnected(): void {
    this.connected = true
    void this.refresh()
  }

  hostDisconnected(): void {
    this.connected = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Runs the task now (the next run is counted from its end). */
  refresh(): Promise<void> {
    if (this.running !== null) return this.running
    clearTimeout(this.timer)
    this.running = (async () => {
      try {
        await this.task()
      } catch {
        // the task shows its own errors
      } finally {
        this.running = null
        this.host.requestUpdate()
        if (this.connected) this.timer = setTimeout(() => void this.refresh(), this.intervalMs)
      }
    })()
    return this.running
  }
}
