/**
 * Which database answers a read of the API when a streaming replica is configured
 * (DATABASE_READ_URL): the rules, as pure functions of what the process last saw of the replica,
 * so they are tested without a database. The adapter that applies them is read-router.ts.
 *
 * - An ordinary read (a top-k request, an event, a history) goes to the replica while the replica
 *   answers, is in recovery (a promoted or misconfigured "replica" is not following the primary),
 *   and is at most `maxLagSeconds` behind. Behind is measured two ways: the replay lag the replica
 *   reports (0 when it has replayed all it received), and how long ago this process heard of a
 *   batch (its commit's WAL position, in the batch notice) that the replica has still not
 *   replayed. The second catches a replica cut off from its primary, which has replayed all it
 *   received and so reports no lag at all.
 * - A fresh read must see every batch this process has heard of (a live ranking computed because
 *   of a notice, and details read into the cache): the replica answers once it has replayed up to
 *   the newest notice's position; until then the read waits for it, bounded, and the primary
 *   answers when the wait would be too long.
 */

/** A WAL position (PostgreSQL's pg_lsn) as a number that compares correctly. */
export type Lsn = bigint

/**
 * Parses PostgreSQL's text form of a pg_lsn ("16/B374D848": two hex numbers of at most 32 bits),
 * or returns undefined for anything else.
 */
export function parseLsn(text: unknown): Lsn | undefined {
  if (typeof text !== 'string') return undefined
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (match === null) return undefined
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** What the last check of the replica found (read-router.ts checks it every second). */
export interface ReplicaView {
  /** it answered the last check */
  readonly reachable: boolean
  /** the last check's error, when it did not answer */
  readonly error?: string
  /** pg_is_in_recovery(): it is a standby replaying a primary's WAL */
  readonly inRecovery: boolean
  /** seconds it is behind what it received: 0 when it replayed all it received, else now() - pg_last_xact_replay_timestamp() */
  readonly lagSeconds: number
  /** how long ago this process heard of the oldest batch the replica has not replayed (0: none) */
  readonly unreplayedSeconds: number
}

export type ReadTarget = 'replica' | 'primary'

export type ReadChoice =
  | { readonly target: 'replica' }
  /** why not the replica, for /readyz and the logs */
  | { readonly target: 'primary'; readonly reason: string }

/**
 * Where an ordinary read goes. `view` is undefined before the replica's first check, or when no
 * replica is configured (`configured` false).
 */
export function chooseReadTarget(
  view: ReplicaView | undefined,
  options: { readonly configured: boolean; readonly maxLagSeconds: number },
): ReadChoice {
  if (!options.configured) return { target: 'primary', reason: 'no replica is configured' }
  if (view === undefined) return { target: 'primary', reason: 'the replica has not been checked yet' }
  if (!view.reachable) return { target: 'primary', reason: `the replica does not answer (${view.error ?? 'unknown'})` }
  if (!view.inRecovery) return { target: 'primary', reason: 'the replica is not in recovery (not following a primary)' }
  const behind = Math.max(view.lagSeconds, view.unreplayedSeconds)
  if (behind > options.maxLagSeconds) {
    return {
      target: 'primary',
      reason: `the replica is ${behind.toFixed(1)} s behind (REPLICA_MAX_LAG_SECONDS ${options.maxLagSeconds})`,
    }
  }
  return { target: 'replica' }
}

export type FreshChoice = ReadChoice | { readonly target: 'wait' }

/**
 * Where a fresh read goes: the replica when it may be read (chooseReadTarget) and has replayed up
 * to `required` (the newest batch heard of); `wait` when it has not yet but is expected to within
 * `waitMs` (its replay lag is below it); else the primary. The caller that waited and saw no
 * progress in time goes to the primary (read-router.ts).
 */
export function chooseFreshTarget(
  view: ReplicaView | undefined,
  positions: { readonly required: Lsn; readonly replayed: Lsn | undefined },
  options: { readonly configured: boolean; readonly maxLagSeconds: number; readonly waitMs: number },
): FreshChoice {
  const choice = chooseReadTarget(view, options)
  if (choice.target === 'primary') return choice
  if (positions.replayed !== undefined && positions.replayed >= positions.required) return choice
  // Replay running a second behind will not reach the newest batch within a one-second wait.
  if ((view?.lagSeconds ?? 0) * 1000 >= options.waitMs) {
    return { target: 'primary', reason: 'the replica has not replayed the newest batch and lags more than a wait' }
  }
  return { target: 'wait' }
}

/**
 * The batches heard of (their WAL positions and when they were heard) that the replica has not
 * replayed yet, oldest first: what `unreplayedSeconds` is measured on. Notices heard within
 * `mergeMs` of the newest entry are merged into it (keeping its time: a merged one counts as heard
 * slightly earlier than it was), and at most `maxEntries` are kept (later notices merge into the
 * last), so a replica that stops replaying costs a bounded amount of memory.
 */
export class UnreplayedBatches {
  readonly #entries: Array<{ lsn: Lsn; at: number }> = []
  readonly #mergeMs: number
  readonly #maxEntries: number

  constructor(options: { readonly mergeMs?: number; readonly maxEntries?: number } = {}) {
    this.#mergeMs = options.mergeMs ?? 100
    this.#maxEntries = options.maxEntries ?? 1000
  }

  /** A batch whose commit is at `lsn` was heard of at `at` (ms). */
  heard(lsn: Lsn, at: number): void {
    const last = this.#entries.at(-1)
    if (last !== undefined && (at - last.at < this.#mergeMs || this.#entries.length >= this.#maxEntries)) {
      if (lsn > last.lsn) last.lsn = lsn
      return
    }
    if (last !== undefined && lsn <= last.lsn) return
    this.#entries.push({ lsn, at })
  }

  /** The replica has replayed up to `lsn`: the batches at or before it are no longer waited for. */
  replayed(lsn: Lsn): void {
    let reached = 0
    while (reached < this.#entries.length && (this.#entries[reached] as { lsn: Lsn }).lsn <= lsn) reached++
    if (reached > 0) this.#entries.splice(0, reached)
  }

  /** Seconds since the oldest batch not replayed was heard of, at `now` (ms); 0 when none. */
  oldestSeconds(now: number): number {
    const oldest = this.#entries[0]
    return oldest === undefined ? 0 : Math.max(0, now - oldest.at) / 1000
  }

  /** how many entries are kept (for tests) */
  get size(): number {
    return this.#entries.length
  }
}
