/**
 * Retries work that failed because a dependency is unavailable, with exponential backoff and no
 * limit on attempts: ingest must never skip a message, so it waits for PostgreSQL or Kafka to come
 * back. Only the abort signal (shutdown) ends the waiting, with the AbortSignal's reason, and only
 * an error that `retryIf` turns down is thrown at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../observability/logger.ts'

export interface RetryOptions {
  readonly signal: AbortSignal
  readonly logger: Logger
  /** what is being retried, for the log line */
  readonly what: string
  readonly initialDelayMs?: number
  readonly maxDelayMs?: number
  /** false: throw the error instead of retrying (default: retry every error) */
  readonly retryIf?: (error: unknown) => boolean
  /** the level of the line logged for each failed attempt (default warn) */
  readonly levelOf?: (error: unknown) => 'warn' | 'error'
  /** fields added to each attempt's log line, e.g. { dependency: 'postgres' } */
  readonly context?: Readonly<Record<string, unknown>>
  readonly onRetry?: (attempt: number, error: unknown) => void
}

/** Resolves with the first result of `work` that does not throw; see RetryOptions for the rest. */
export async function retryUntilDone<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const maxDelay = options.maxDelayMs ?? 5000
  let delay = options.initialDelayMs ?? 100
  for (let attempt = 1; ; attempt++) {
    options.signal.throwIfAborted()
    try {
      return await work()
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason
      if (options.retryIf && !options.retryIf(error)) throw error
      options.onRetry?.(attempt, error)
      const level = options.levelOf?.(error) ?? 'warn'
      options.logger[level](
        { ...options.context, err: error, attempt, retryInMs: delay },
        `${options.what} failed; retrying`,
      )
      await sleep(delay, undefined, { signal: options.signal })
      delay = Math.min(delay * 2, maxDelay)
    }
  }
}
