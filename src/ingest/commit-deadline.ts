/**
 * How long the ingest waits for a batch's offset commit. A commit can wait on the group: when it
 * meets a rebalance, the Kafka client joins the group again before it commits, and a join waits
 * for every member. Giving up is always safe, because the batch is already applied and applying
 * it again changes nothing (store/rsvp-store.ts): its messages come again to whoever owns their partitions.
 * - running: up to `timeoutMs` (a commit queued while the session ended another way can stay
 *   pending for good);
 * - stopping (`stop` aborted): up to `stopGraceMs` more. A rolling restart stops a member while
 *   the group rebalances, and a join there would hold the shutdown past its deadline.
 */

export class CommitAbandoned extends Error {
  /** true when the wait ended because the ingest is stopping, false when it timed out */
  readonly stopping: boolean

  constructor(message: string, stopping: boolean) {
    super(message)
    this.name = 'CommitAbandoned'
    this.stopping = stopping
  }
}

export interface CommitDeadline {
  readonly timeoutMs: number
  /** aborted when the ingest stops */
  readonly stop: AbortSignal
  readonly stopGraceMs: number
}

/**
 * Resolves when `commit` does, rejects with its error, or with a CommitAbandoned when the
 * deadline above passes first. Leaves no timer or listener behind either way.
 */
export async function commitWithin(commit: Promise<unknown>, deadline: CommitDeadline): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let graceTimer: NodeJS.Timeout | undefined
  let onStop: (() => void) | undefined
  const abandoned = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CommitAbandoned(`committing offsets timed out after ${deadline.timeoutMs} ms`, false)),
      deadline.timeoutMs,
    )
    onStop = () => {
      graceTimer = setTimeout(
        () => reject(new CommitAbandoned(`offsets not committed within ${deadline.stopGraceMs} ms of stopping`, true)),
        deadline.stopGraceMs,
      )
    }
    if (deadline.stop.aborted) onStop()
    else deadline.stop.addEventListener('abort', onStop, { once: true })
  })
  try {
    await Promise.race([commit, abandoned])
  } finally {
    clearTimeout(timer)
    clearTimeout(graceTimer)
    if (onStop) deadline.stop.removeEventListener('abort', onStop)
  }
}
