/**
 * What the live page says about the ingest, from the batch notices an `api` process hears
 * (store/batch-notifications.ts): the rate of messages over the last RATE_WINDOW_MS, and the
 * newest applied RSVP time. Pure apart from the clock it is given.
 */
import type { BatchNotice } from '../store/batch-notifications.ts'

export const RATE_WINDOW_MS = 10_000

/** The status as the stream sends it (`event: status`). */
export interface IngestStatus {
  /** messages per second committed by every ingest process over the last 10 s */
  readonly ingest_rate_per_s: number
  /** the newest applied RSVP's mtime, ISO-8601, or null when none is known */
  readonly newest_applied_mtime: string | null
}

export interface IngestStatusTracker {
  /** Takes a notice heard at `now` (epoch ms); its WAL position is not the page's business. */
  record(notice: Omit<BatchNotice, 'walLsn' | 'details'>, now: number): void
  /** Sets the newest applied mtime known from elsewhere (e.g. the database at start), if newer. */
  seen(newestAppliedMtime: number | null): void
  /** The status at `now`. */
  at(now: number): IngestStatus
}

export function createIngestStatus(): IngestStatusTracker {
  // Each second's message count, by second; at most RATE_WINDOW_MS / 1000 + 1 entries are kept.
  const perSecond = new Map<number, number>()
  let newest: number | null = null
  const forget = (now: number) => {
    const oldest = Math.floor((now - RATE_WINDOW_MS) / 1000)
    for (const second of perSecond.keys()) if (second < oldest) perSecond.delete(second)
  }
  const seen = (mtime: number | null) => {
    if (mtime !== null && (newest === null || mtime > newest)) newest = mtime
  }
  return {
    record(notice, now) {
      const second = Math.floor(now / 1000)
      perSecond.set(second, (perSecond.get(second) ?? 0) + notice.messages)
      seen(notice.newestAppliedMtime)
      forget(now)
    },
    seen,
    at(now) {
      forget(now)
      let messages = 0
      for (const [second, count] of perSecond) if (second * 1000 >= now - RATE_WINDOW_MS) messages += count
      return {
        ingest_rate_per_s: Math.round(messages / (RATE_WINDOW_MS / 1000)),
        newest_applied_mtime: newest === null ? null : new Date(newest).toISOString(),
      }
    },
  }
}

/** A process's status, sent to its streams when it changes (checked every `intervalMs`). */
export interface StatusFeed {
  current(): IngestStatus
  /** `listener` gets each changed status; returns the unsubscribe function */
  subscribe(listener: (status: IngestStatus) => void): () => void
  close(): void
}

/**
 * One timer per process, not per stream: the rate decays while nothing is committed, so the
 * status is looked at every `intervalMs` and sent on only when it changed.
 */
export function createStatusFeed(tracker: IngestStatusTracker, options: { intervalMs: number; now?: () => number }) {
  const now = options.now ?? Date.now
  const listeners = new Set<(status: IngestStatus) => void>()
  let last = JSON.stringify(tracker.at(now()))
  const timer = setInterval(() => {
    if (listeners.size === 0) return
    const status = tracker.at(now())
    const text = JSON.stringify(status)
    if (text === last) return
    last = text
    for (const listener of listeners) listener(status)
  }, options.intervalMs)
  timer.unref()
  const feed: StatusFeed = {
    current: () => tracker.at(now()),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => clearInterval(timer),
  }
  return feed
}
