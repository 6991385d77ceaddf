/**
 * Runs an EmbeddedDriver in its own process for embedded-driver.test.ts, so that the CPU the
 * relay costs can be measured apart from the test's own peers (werift "browsers" and UDP
 * "phones" in the parent). Driven over Bun's IPC channel:
 *
 *   parent -> child  { id, op: 'offer' | 'answer' | 'delete' | 'cpu' | 'active' | 'close', request? }
 *   child -> parent  { id, ok: true, result } | { id, ok: false, status, message }
 *
 * argv[2] is a JSON object with `rtpPortMin` and `rtpPortMax`.
 */
import { EmbeddedDriver } from '../../../gateway/src/media/embedded/embedded-driver.ts'
import { MediaError } from '../../../gateway/src/media/media-driver.ts'

const options = JSON.parse(process.argv[2] ?? '{}') as { rtpPortMin: number; rtpPortMax: number }
const driver = new EmbeddedDriver({ bindAddress: '127.0.0.1', rtpPortMin: options.rtpPortMin, rtpPortMax: options.rtpPortMax })

type Message = { id: number; op: string; request?: never }

process.on('message', async (message: Message) => {
  const { id, op, request } = message
  try {
    let result: unknown = null
    switch (op) {
      case 'offer':
        result = await driver.offer(request!)
        break
      case 'answer':
        result = await driver.answer(request!)
        break
      case 'delete':
        await driver.delete(request!)
        break
      case 'cpu':
        result = { ...process.cpuUsage(), wallMs: performance.now() }
        break
      case 'active':
        result = driver.activeSessions
        break
      case 'close':
        await driver.close()
        break
      default:
        throw new Error(`unknown op ${op}`)
    }
    process.send!({ id, ok: true, result })
  } catch (e) {
    process.send!({ id, ok: false, status: e instanceof MediaError ? e.status : 0, message: e instanceof Error ? e.message : String(e) })
  }
})

process.send!({ ready: true })
