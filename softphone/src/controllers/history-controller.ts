/** Records every ended call in the CallHistoryStore and exposes the list to a Lit host. */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { SignalingClient } from '../signaling/signaling-client.ts'
import { historyEntryOf, type CallHistoryEntry, type CallHistoryStore } from '../storage/call-history-store.ts'

export class HistoryController implements ReactiveController {
  entries: CallHistoryEntry[]
  private unsubscribe: (() => void) | undefined

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: SignalingClient,
    private readonly store: CallHistoryStore,
  ) {
    this.entries = store.list()
    host.addController(this)
  }

  hostConnected(): void {
    this.unsubscribe = this.client.on('call', (snapshot) => {
      if (snapshot.state !== 'ended') return
      this.entries = this.store.add(historyEntryOf(snapshot))
      this.host.requestUpdate()
    })
  }

  hostDisconnected(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  remove(id: string): void {
    this.entries = this.store.remove(id)
    this.host.requestUpdate()
  }

  clear(): void {
    this.store.clear()
    this.entries = []
    this.host.requestUpdate()
  }

  /** Display name last seen for a user (for outgoing calls, whose To has none). */
  displayNameFor(user: string): string {
    return this.entries.find((e) => e.user === user && e.displayName !== '')?.displayName ?? ''
  }
}
