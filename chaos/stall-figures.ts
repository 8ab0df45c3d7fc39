/**
 * Figures of a fault from samples taken while it lasted: how long a counter stood still, how long
 * a partition's committed offset did while messages waited. Pure, for cluster-scenarios.ts.
 */

/**
 * The longest time without progress of a counter that overlaps [from, to]: between the last
 * sample before a stretch of equal values and the first sample after it that is higher.
 */
export function longestStall(samples: readonly { at: number; value: number }[], from: number, to: number): number {
  let longest = 0
  let lastRise = samples[0]?.at ?? from
  for (let i = 1; i < samples.length; i++) {
    const previous = samples[i - 1] as { at: number; value: number }
    const current = samples[i] as { at: number; value: number }
    if (current.value > previous.value) {
      if (current.at >= from && lastRise <= to) longest = Math.max(longest, current.at - lastRise)
      lastRise = current.at
    }
  }
  return longest
}

/**
 * The worst partition: the longest a partition's committed offset stood still while messages
 * waited after it, overlapping [from, to], from samples of the group's position. A stretch runs
 * from the last sample at which the partition moved (or had nothing waiting) to the next one at
 * which it moved, and counts when messages waited at the samples after its start; a stretch
 * without samples (the cluster did not answer) counts whole.
 */
export function longestPartitionStall(
  samples: readonly { at: number; value: ReadonlyMap<number, { lag: number; committed: number }> }[],
  from: number,
  to: number,
): { partition: number; ms: number } {
  const worst = { partition: -1, ms: 0 }
  const movedAt = new Map<number, number>()
  const committed = new Map<number, number>()
  const waited = new Map<number, boolean>()
  for (const { at, value } of samples) {
    for (const [partition, position] of value) {
      const since = movedAt.get(partition)
      const moved = committed.get(partition) !== position.committed || position.lag === 0
      committed.set(partition, position.committed)
      // still with messages waiting, or just moved after they waited: the stretch since the last move
      const stalled = moved ? waited.get(partition) === true : position.lag > 0
      waited.set(partition, position.lag > 0)
      const stretch = since === undefined || !stalled ? 0 : at - since
      if (since !== undefined && at >= from && since <= to && stretch > worst.ms) {
        worst.partition = partition
        worst.ms = stretch
      }
      if (moved) movedAt.set(partition, at)
    }
  }
  return worst
}

/**
 * The longest time the whole group committed nothing while messages waited, overlapping
 * [from, to]: the worst partition's measure applied to the sums over all partitions (committed
 * offsets and lag). A rebalance stops every member at once, so this is the time the service as a
 * whole made no progress; idle stretches (nothing waiting) do not count.
 */
export function longestGroupStall(
  samples: readonly { at: number; value: ReadonlyMap<number, { lag: number; committed: number }> }[],
  from: number,
  to: number,
): number {
  const summed = samples.map(({ at, value }) => {
    let lag = 0
    let committed = 0
    for (const position of value.values()) {
      lag += position.lag
      committed += position.committed
    }
    return { at, value: new Map([[-1, { lag, committed }]]) }
  })
  return longestPartitionStall(summed, from, to).ms
}
