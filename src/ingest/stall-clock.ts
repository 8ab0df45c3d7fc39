/**
 * How long the ingest has made no progress while messages wait for it: the figure behind
 * `rsvp_topk_ingest_stalled_seconds`. Messages wait while a batch is received but not committed,
 * or while the consumer lag of the partitions this process owns is above zero. The clock runs
 * from the later of the last committed batch and the moment messages began to wait, and reads 0
 * whenever nothing waits, so an idle stream is never "stalled".
 */
export interface StallClock {
  /** A batch was received from Kafka (it waits until committed). */
  received(): void
  /**
   * A batch is done with: `committed` when it was applied and its offsets committed (progress),
   * false when it was given up (a broken session: its messages come again, and wait meanwhile).
   */
  settled(committed: boolean): void
  /** The newest consumer lag reading: messages in owned partitions not committed yet. */
  lag(messages: number): void
  /** Seconds without progress while messages wait; 0 when none wait. */
  stalledSeconds(): number
}

export function createStallClock(now: () => number = Date.now): StallClock {
  let pending = 0
  let lag = 0
  // A batch given up since the last commit: its messages come again, and wait meanwhile.
  let givenUp = false
  let lastCommit = now()
  let waitingSince: number | undefined
  const waiting = () => pending > 0 || lag > 0 || givenUp
  const update = (wasWaiting: boolean) => {
    if (!wasWaiting && waiting()) waitingSince = now()
    if (!waiting()) waitingSince = undefined
  }
  return {
    received() {
      const was = waiting()
      pending++
      update(was)
    },
    settled(committed) {
      const was = waiting()
      pending = Math.max(0, pending - 1)
      if (committed) lastCommit = now()
      givenUp = !committed
      update(was)
    },
    lag(messages) {
      const was = waiting()
      lag = messages
      // Nothing uncommitted in the owned partitions: whatever was given up has been committed since.
      if (messages === 0 && pending === 0) givenUp = false
      update(was)
    },
    stalledSeconds() {
      if (waitingSince === undefined) return 0
      return Math.max(0, now() - Math.max(lastCommit, waitingSince)) / 1000
    },
  }
}
