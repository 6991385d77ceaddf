/**
 * A small synchronous typed event emitter. A listener that throws does not stop the
 * others (its error is reported to `console.error`).
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(event: never) => void>>()

  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): () => void {
    let set = this.listeners.get(type)
    if (!set) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(listener as (event: never) => void)
    return () => {
      set.delete(listener as (event: never) => void)
    }
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.listeners.get(type)
    if (!set) return
    for (const listener of [...set]) {
      try {
        (listener as (event: Events[K]) => void)(event)
      } catch (error) {
        console.error(`listener for ${String(type)} failed`, error)
      }
    }
  }

  listenerCount(type: keyof Events): number {
    return this.listeners.get(type)?.size ?? 0
  }
}
