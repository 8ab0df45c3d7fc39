/**
 * Redis Cluster hash slots. A multi-key command (MGET, DEL) is refused by a cluster unless all its
 * keys are in one slot, so the cluster cache sends one command per slot. Putting every key under
 * one {hash tag} would make that one command, but would also put the whole cache on one master.
 * The slot function is the one ioredis routes by (cluster-key-slot), so a group always goes to the
 * node ioredis picks.
 */
import calculateSlot from 'cluster-key-slot'

export const SLOT_COUNT = 16_384

/** The hash slot (0 to 16383) of a key. */
export function slotOf(key: string): number {
  return calculateSlot(key)
}

/** The keys grouped by slot, each key once, in the order given within a group. */
export function groupBySlot(keys: Iterable<string>): Map<number, string[]> {
  const groups = new Map<number, string[]>()
  const seen = new Set<string>()
  for (const key of keys) {
    if (seen.has(key)) continue
    seen.add(key)
    const slot = calculateSlot(key)
    const group = groups.get(slot)
    if (group) group.push(key)
    else groups.set(slot, [key])
  }
  return groups
}
