/** A ReactiveControllerHost for controller tests: counts update requests. */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

export class FakeHost implements ReactiveControllerHost {
  readonly controllers: ReactiveController[] = []
  updates = 0
  addController(controller: ReactiveController): void {
    this.controllers.push(controller)
  }
  removeController(controller: ReactiveController): void {
    this.controllers.splice(this.controllers.indexOf(controller), 1)
  }
  requestUpdate(): void {
    this.updates++
  }
  get updateComplete(): Promise<boolean> {
    return Promise.resolve(true)
  }
  connect(): void {
    for (const c of this.controllers) c.hostConnected?.()
  }
  disconnect(): void {
    for (const c of this.controllers) c.hostDisconnected?.()
  }
}
