/**
 * Paces `rsvp-topk produce --rate R`: message i is due at start + i / R seconds, and the sender
 * asks how many may go now. Messages are released in small batches, one every `tickMs` or so
 * (never a burst of a whole second's worth), and time lost while the sender was slow is forgotten
 * beyond `slackMs`, so a stall is not followed by a catch-up burst.
 */

/** Time as the pacer sees it; tests inject a fake one. */
export interface Clock {
  /** milliseconds, monotonic */
  now(): number
  /** resolves after `ms`, or early when `signal` aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export interface PacerOptions {
  /** messages per second; undefined or Infinity means as fast as possible */
  readonly rate?: number | undefined
  /** how often a batch is released at most, in ms (default 10) */
  readonly tickMs?: number
  /** how far behind schedule the pacer may fall and still catch up, in ms (default 100) */
  readonly slackMs?: number
  readonly clock?: Clock
}

export interface Pacer {
  /**
   * Waits until messages are due, then returns how many may go now: from 1 to `max`. Returns 0
   * only when `signal` aborts. An unpaced pacer returns `max` at once.
   */
  take(max: number, signal?: AbortSignal): Promise<number>
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
    }),
}

/** A pacer for `rate` messages per second (see PacerOptions). */
export function createPacer(options: PacerOptions = {}): Pacer {
  const { rate, tickMs = 10, slackMs = 100, clock = systemClock } = options
  if (rate === undefined || rate === Number.POSITIVE_INFINITY) {
    return { take: async (max, signal) => (signal?.aborted ? 0 : max) }
  }
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a number > 0, not ${rate}`)
  const interval = 1000 / rate
  // the batch a tick releases: at high rates many messages per tick, at low rates one per interval
  const perTick = Math.max(1, Math.floor(rate * (tickMs / 1000)))
  // when the next message is due; set by the first take
  let next: number | undefined

  return {
    async take(max, signal) {
      if (max < 1) throw new RangeError(`take needs max >= 1, not ${max}`)
      const wanted = Math.min(max, perTick)
      for (;;) {
        if (signal?.aborted) return 0
        const now = clock.now()
        next ??= now
        if (next < now - slackMs) next = now - slackMs
        // wait until the wanted batch's last message is due
        const readyAt = next + (wanted - 1) * interval
        if (readyAt <= now) {
          const due = Math.floor((now - next) / interval) + 1
          const count = Math.min(max, due)
          next += count * interval
          return count
        }
        await clock.sleep(readyAt - now, signal)
      }
    },
  }
}
