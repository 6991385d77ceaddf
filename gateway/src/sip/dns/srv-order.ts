/**
 * The order in which SRV targets are tried (RFC 2782, "Usage rules"): lowest priority first;
 * within one priority, a weighted random order — each pick chooses a record with probability
 * proportional to its weight among those not yet picked, records of weight 0 having a very
 * small chance (they are placed first in the running sum, as RFC 2782 prescribes).
 */
import type { SrvRecord } from './dns-client.ts'

/** A source of uniform random numbers in [0, 1) (Math.random; tests inject a sequence). */
export type RandomSource = () => number

/**
 * The records in the order to try them (a new array; the input is not changed).
 *
 * @param records SRV records of one name (targets "." are left in; the caller drops them)
 * @param random uniform [0, 1); one draw per pick in each priority group of two or more
 */
export function orderSrv(records: readonly SrvRecord[], random: RandomSource = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>()
  for (const r of records) {
    const group = byPriority.get(r.priority)
    if (group) group.push(r)
    else byPriority.set(r.priority, [r])
  }
  const out: SrvRecord[] = []
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // Weight-0 records first in the running sum (RFC 2782).
    const group = byPriority.get(priority)!.slice().sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1))
    while (group.length > 1) {
      let total = 0
      for (const r of group) total += r.weight
      // RFC 2782: a uniform random number between 0 and the sum (inclusive); the first record
      // whose running sum is >= it is picked.
      const threshold = Math.floor(random() * (total + 1))
      let running = 0
      let index = group.length - 1
      for (let i = 0; i < group.length; i++) {
        running += group[i]!.weight
        if (running >= threshold) {
          index = i
          break
        }
      }
      out.push(group[index]!)
      group.splice(index, 1)
    }
    if (group.length === 1) out.push(group[0]!)
  }
  return out
}
