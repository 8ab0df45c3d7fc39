/**
 * How long the ingest has made no progress while messages wait for it: the figure behind
 * `rsvp_topk_ingest_stalled_seconds`. Two views, and the clock reads the worse:
 * - this process: a batch received and not yet committed waits; a batch committed is progress;
 * - the consumer group, per partition, as the broker reports it: a partition with messages after
 *   its committed offset waits; its committed offset moving on is progress. This shows a
 *   partition that nobody reads (a member that holds it and never consumes), which this process
 *   cannot see from its own batches.
 * Each reads 0 while nothing waits, so an idle stream is never "stalled".
 *
 * A lag of one is not waiting: a topic written by a transactional producer ends each transaction
 * with a control record (a commit marker) that takes an offset but is never delivered, so a
 * partition read to its end keeps its committed offset one short of the end offset for good.
 * Counting it would call every idle transactional topic stalled and rejoin the group over it.
 */

/** Trailing offsets that may be transaction markers, which a consumer never receives or commits. */
const MARKER_LAG = 1

/** A partition's state in the consumer group: messages after the committed offset, and that offset. */
export interface PartitionPosition {
  readonly lag: number
  readonly committed: number
}

export interface StallClock {
  /** A batch was received from Kafka (it waits until committed). */
  received(): void
  /**
   * A batch is done with: `committed` when it was applied and its offsets committed (progress),
   * false when it was given up (a broken session: its messages come again, and wait meanwhile).
   */
  settled(committed: boolean): void
  /** The group's latest position from the broker, per partition. */
  group(partitions: ReadonlyMap<number, PartitionPosition>): void
  /** Seconds without progress while messages wait; 0 when none wait. */
  stalledSeconds(): number
}

interface PartitionWatch {
  committed: number
  /** since when it has waited without its committed offset moving; undefined while it has no lag */
  since: number | undefined
}

export function createStallClock(now: () => number = Date.now): StallClock {
  let pending = 0
  // A batch given up since the last commit: its messages come again, and wait meanwhile.
  let givenUp = false
  let lastCommit = now()
  let localSince: number | undefined
  const partitions = new Map<number, PartitionWatch>()

  const localWaiting = () => pending > 0 || givenUp
  const update = (wasWaiting: boolean) => {
    if (!wasWaiting && localWaiting()) localSince = now()
    if (!localWaiting()) localSince = undefined
  }
  return {
    received() {
      const was = localWaiting()
      pending++
      update(was)
    },
    settled(committed) {
      const was = localWaiting()
      pending = Math.max(0, pending - 1)
      if (committed) lastCommit = now()
      givenUp = !committed
      update(was)
    },
    group(positions) {
      const at = now()
      for (const [partition, position] of positions) {
        const watch = partitions.get(partition)
        if (position.lag <= MARKER_LAG) {
          partitions.set(partition, { committed: position.committed, since: undefined })
        } else if (watch === undefined || watch.since === undefined || position.committed > watch.committed) {
          partitions.set(partition, { committed: position.committed, since: at })
        }
      }
      for (const partition of partitions.keys()) if (!positions.has(partition)) partitions.delete(partition)
    },
    stalledSeconds() {
      const at = now()
      let stalled = localSince === undefined ? 0 : at - Math.max(lastCommit, localSince)
      for (const watch of partitions.values()) {
        if (watch.since !== undefined) stalled = Math.max(stalled, at - watch.since)
      }
      return Math.max(0, stalled) / 1000
    },
  }
}
