/**
 * How long the ingest waits for a batch's offset commit. The Kafka client queues a commit while
 * its member is not active in the group (a rebalance under way, a rejoin that failed) and sends it
 * only once it is active again; a closed client never settles it. Giving up is always safe,
 * because the batch is already applied and applying it again changes nothing
 * (store/rsvp-store.ts): its messages come again to whoever owns their partitions next.
 */

/** Why a commit was given up on (the abandon signal's reason, or the timeout). */
export class CommitAbandoned extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CommitAbandoned'
  }
}

/**
 * Resolves when `commit` does; rejects with its error, with a CommitAbandoned after `timeoutMs`,
 * or with `abandon`'s reason once it aborts (at once when it already has). Leaves no timer or
 * listener behind.
 */
export async function commitWithin(commit: Promise<unknown>, timeoutMs: number, abandon: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let onAbandon: (() => void) | undefined
  const givenUp = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CommitAbandoned(`committing offsets timed out after ${timeoutMs} ms`)),
      timeoutMs,
    )
    onAbandon = () => reject(abandon.reason)
    if (abandon.aborted) onAbandon()
    else abandon.addEventListener('abort', onAbandon, { once: true })
  })
  try {
    await Promise.race([commit, givenUp])
  } finally {
    clearTimeout(timer)
    if (onAbandon) abandon.removeEventListener('abort', onAbandon)
  }
}
