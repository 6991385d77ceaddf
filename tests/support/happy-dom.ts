/**
 * A happy-dom window as the global DOM for component tests (Lit needs HTMLElement,
 * customElements, document...), without leaking it into other test files that share the
 * `bun test` process.
 *
 * Use: import this module FIRST in a component test file (before any module that defines
 * custom elements: those evaluate at import time and need the DOM then), and call
 * `useDom()` at the top level of the file. The DOM globals are installed on first import and
 * around each such file's tests (beforeAll), and Bun's own globals come back after them
 * (afterAll), so gateway tests that run later see an ordinary Bun global scope.
 *
 * A global preload would need, under [test] in bunfig.toml:
 *   preload = ["./tests/support/happy-dom.ts"]
 * (not needed: the test files import it themselves).
 */
import { afterAll, beforeAll } from 'bun:test'
import { GlobalWindow, PropertySymbol } from 'happy-dom'

/**
 * Bun's own networking, encoding and timer globals stay in place even while the DOM is
 * installed (Bun.serve wants Bun's Response; the SIP tests use Bun's WebSocket).
 */
const KEEP_NATIVE = new Set<string>([
  'fetch', 'Request', 'Response', 'Headers', 'WebSocket', 'URL', 'URLSearchParams', 'AbortController',
  'AbortSignal', 'Blob', 'ReadableStream', 'WritableStream', 'TransformStream', 'TextEncoder', 'TextDecoder',
  'crypto', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'structuredClone',
  'btoa', 'atob', 'performance', 'console', 'process',
])
const IGNORE = new Set<PropertyKey>(['constructor', 'undefined', 'NaN', 'global', 'globalThis', ...KEEP_NATIVE])

type Descriptors = Map<PropertyKey, PropertyDescriptor | undefined>

interface DomState {
  readonly dom: Descriptors
  readonly native: Descriptors
}

const STATE_KEY = Symbol.for('patchbay.test.happy-dom')
const g = globalThis as unknown as Record<PropertyKey, unknown>

function apply(descriptors: Descriptors): void {
  for (const [key, descriptor] of descriptors) {
    if (descriptor) Object.defineProperty(globalThis, key, { ...descriptor, configurable: true })
    else delete g[key]
  }
}

function install(): DomState {
  const existing = g[STATE_KEY] as DomState | undefined
  if (existing) {
    apply(existing.dom)
    return existing
  }
  const window = new GlobalWindow({ url: 'http://localhost:8080/', width: 1280, height: 800, console: globalThis.console })
  const dom: Descriptors = new Map()
  const native: Descriptors = new Map()
  const own = window as unknown as Record<PropertyKey, unknown>
  const keys: PropertyKey[] = [...Object.keys(Object.getOwnPropertyDescriptors(window)), ...Object.getOwnPropertySymbols(window)]
  for (const key of keys) {
    if (IGNORE.has(key)) continue
    const descriptor = Object.getOwnPropertyDescriptor(window, key)!
    const current = Object.getOwnPropertyDescriptor(globalThis, key)
    if (current?.value !== undefined && current.value === descriptor.value) continue
    if (descriptor.value === window) {
      own[key] = globalThis
      descriptor.value = globalThis
    }
    native.set(key, current)
    dom.set(key, descriptor)
  }
  const state: DomState = { dom, native }
  Object.defineProperty(globalThis, STATE_KEY, { value: state, configurable: true })
  apply(dom)
  ;(g.document as Record<PropertyKey, unknown>)[PropertySymbol.defaultView] = globalThis
  return state
}

const state = install()

/** Installs the DOM before this file's tests and gives Bun's globals back after them. */
export function useDom(): void {
  beforeAll(() => apply(state.dom))
  afterAll(() => apply(state.native))
}

/** Waits for every pending Lit update under `root` (elements and their shadow roots). */
export async function settle(root: Element | Document = document, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const pending: Promise<unknown>[] = []
    const visit = (node: Element | Document | ShadowRoot): void => {
      for (const el of Array.from(node.querySelectorAll('*'))) {
        const maybe = el as Element & { updateComplete?: Promise<unknown> }
        if (maybe.updateComplete) pending.push(maybe.updateComplete)
        if (el.shadowRoot) visit(el.shadowRoot)
      }
    }
    visit(root)
    await Promise.all(pending)
    await new Promise((r) => setTimeout(r, 0))
  }
}

/** querySelector that descends into open shadow roots (first match, depth-first). */
export function deepQuery<T extends Element = Element>(root: Element | Document | ShadowRoot, selector: string): T | null {
  const direct = root.querySelector<T>(selector)
  if (direct) return direct
  const own = (root as Element).shadowRoot
  if (own) {
    const found = deepQuery<T>(own, selector)
    if (found) return found
  }
  for (const el of Array.from(root.querySelectorAll('*'))) {
    if (el.shadowRoot) {
      const found = deepQuery<T>(el.shadowRoot, selector)
      if (found) return found
    }
  }
  return null
}

/** All matches, through open shadow roots. */
export function deepQueryAll<T extends Element = Element>(root: Element | Document | ShadowRoot, selector: string): T[] {
  const out: T[] = [...Array.from(root.querySelectorAll<T>(selector))]
  const own = (root as Element).shadowRoot
  if (own) out.push(...deepQueryAll<T>(own, selector))
  for (const el of Array.from(root.querySelectorAll('*'))) {
    if (el.shadowRoot) out.push(...deepQueryAll<T>(el.shadowRoot, selector))
  }
  return out
}

/** Visible text through shadow roots (style/script excluded). */
export function deepText(root: Node): string {
  const parts: string[] = []
  const walk = (node: Node): void => {
    if (node.nodeType === 3) {
      const t = node.textContent?.trim()
      if (t) parts.push(t)
      return
    }
    if (node.nodeType === 1) {
      const el = node as Element
      if (el.tagName === 'STYLE' || el.tagName === 'SCRIPT') return
      if (el.shadowRoot) walk(el.shadowRoot)
    }
    for (const child of Array.from(node.childNodes)) walk(child)
  }
  walk(root)
  return parts.join(' ')
}
