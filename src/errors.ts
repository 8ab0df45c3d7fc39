/**
 * Every error the service raises on purpose carries a code from this list. Callers branch on the
 * code, never on message text; the HTTP layer maps codes to statuses in one place.
 */
export const ErrorCodes = {
  /** The environment holds a missing or malformed setting. */
  CONFIG_INVALID: 'RSVP_CONFIG_INVALID',
  /** A command-line argument is missing or malformed. */
  USAGE: 'RSVP_USAGE',
  /** A Kafka message is not a valid RSVP; it goes to the dead-letter topic. */
  INVALID_MESSAGE: 'RSVP_INVALID_MESSAGE',
  /** A request parameter is missing or malformed. */
  INVALID_PARAMETER: 'RSVP_INVALID_PARAMETER',
  /** The thing asked for does not exist. */
  NOT_FOUND: 'RSVP_NOT_FOUND',
  /** A dependency (Kafka, PostgreSQL, Redis) failed; retrying may help. */
  DEPENDENCY_FAILED: 'RSVP_DEPENDENCY_FAILED',
  /** A schema migration could not be applied. */
  MIGRATION_FAILED: 'RSVP_MIGRATION_FAILED',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface AppErrorOptions {
  cause?: unknown
  retryable?: boolean
  [context: string]: unknown
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    const { cause, retryable = false, ...context } = options
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'AppError'
    this.code = code
    this.retryable = retryable
    this.context = Object.freeze(context)
  }
}

export function isAppError(value: unknown, code?: ErrorCode): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code)
}
