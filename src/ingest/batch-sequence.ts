/**
 * The order in which batches reach PostgreSQL and Kafka. At most two batch transactions run at
 * once: the newer one begins when the older one has written its RSVP versions. From there the two
 * meet only on count and detail rows, which every transaction locks in one order, so they wait
 * for each other but never deadlock, and any commit order gives the same state (rules 1 and
 * 5 do not depend on order; counts move by deltas read under row locks).
 *
 * Offsets are another matter: a batch may commit its offsets only when every earlier batch has
 * committed its own, or a crash would skip messages that were never applied. Each batch therefore
 * learns whether all earlier batches succeeded, and a failed batch never stops an earlier one from
 * committing.
 */

export interface BatchTurn {
  /** Tell the sequence the batch's RSVP versions are written: the next batch may begin. */
  versionsWritten(): void
  /** Resolves once every earlier batch has settled: true when all of them succeeded. */
  readonly earlierSucceeded: Promise<boolean>
}

export interface BatchSequence {
  /** Resolves when one more batch may begin. */
  ready(): Promise<void>
  /**
   * Begins a batch (after ready()); `work` resolves true when the batch is applied and its offsets
   * committed, false when it failed. It must not reject.
   */
  begin(work: (turn: BatchTurn) => Promise<boolean>): void
  /** Resolves once every batch begun so far has settled: true when all of them succeeded. */
  settled(): Promise<boolean>
}

export function createBatchSequence(): BatchSequence {
  // every batch begun so far has settled; true when all succeeded
  let allSettled: Promise<boolean> = Promise.resolve(true)
  // the same, without the newest batch
  let olderSettled: Promise<boolean> = allSettled
  let newestWritten: Promise<void> = Promise.resolve()

  return {
    async ready() {
      await Promise.all([olderSettled, newestWritten])
    },
    begin(work) {
      let markWritten: () => void = () => {}
      const written = new Promise<void>((resolve) => {
        markWritten = resolve
      })
      const earlierSucceeded = allSettled
      // A batch that ends without writing (it failed, or had no valid RSVP) lets the next one begin.
      const own = work({ versionsWritten: markWritten, earlierSucceeded }).finally(markWritten)
      olderSettled = allSettled
      newestWritten = written
      allSettled = Promise.all([earlierSucceeded, own]).then(([earlier, mine]) => earlier && mine)
    },
    settled() {
      return allSettled
    },
  }
}
