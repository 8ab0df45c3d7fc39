/**
 * The one registry of the errors the service raises on purpose: each code with whether retrying
 * can help and the HTTP status it maps to. Callers branch on the code, never on message text;
 * the HTTP layer maps codes to statuses through `httpStatusOf`, and docs/errors.md lists them all
 * (a test checks it does).
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
  /** A dependency (Kafka, Redis) failed; retrying may help. */
  DEPENDENCY_FAILED: 'RSVP_DEPENDENCY_FAILED',
  /** A schema migration could not be applied. */
  MIGRATION_FAILED: 'RSVP_MIGRATION_FAILED',
  /**
   * PostgreSQL could not be reached or gave up on the work for reasons of its own: connection
   * refused or lost, SQLSTATE classes 08, 40 (serialization failure, deadlock), 53, 55, 57, 58.
   */
  DATABASE_UNAVAILABLE: 'RSVP_DATABASE_UNAVAILABLE',
  /**
   * PostgreSQL refused the data itself, and will refuse the same data again: SQLSTATE classes 22
   * (data exception), 23 (integrity constraint) and 54 (program limit exceeded).
   */
  DATABASE_REJECTED: 'RSVP_DATABASE_REJECTED',
  /**
   * PostgreSQL refused the statement for a reason that is not in the data: a bug or the set-up
   * (class 42 syntax or privilege, 28 authorization, 3D missing database, XX internal, …).
   */
  DATABASE_FAULT: 'RSVP_DATABASE_FAULT',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface ErrorKind {
  /** whether the same work may succeed later unchanged */
  readonly retryable: boolean
  /** the status of an HTTP answer caused by this error */
  readonly httpStatus: number
}

export const ErrorKinds: { readonly [C in ErrorCode]: ErrorKind } = {
  RSVP_CONFIG_INVALID: { retryable: false, httpStatus: 500 },
  RSVP_USAGE: { retryable: false, httpStatus: 400 },
  RSVP_INVALID_MESSAGE: { retryable: false, httpStatus: 400 },
  RSVP_INVALID_PARAMETER: { retryable: false, httpStatus: 400 },
  RSVP_NOT_FOUND: { retryable: false, httpStatus: 404 },
  RSVP_DEPENDENCY_FAILED: { retryable: true, httpStatus: 503 },
  RSVP_MIGRATION_FAILED: { retryable: false, httpStatus: 500 },
  RSVP_DATABASE_UNAVAILABLE: { retryable: true, httpStatus: 503 },
  // In a request, data the database cannot hold came from the request: the client's to fix.
  RSVP_DATABASE_REJECTED: { retryable: false, httpStatus: 400 },
  // Retrying cannot fix a fault by itself, but an operator can (grant, create the database) while
  // the ingest waits: it retries, and says so at error level.
  RSVP_DATABASE_FAULT: { retryable: false, httpStatus: 500 },
}

export interface AppErrorOptions {
  cause?: unknown
  /** overrides the code's own retryability (ErrorKinds) */
  retryable?: boolean
  [context: string]: unknown
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    const { cause, retryable = ErrorKinds[code].retryable, ...context } = options
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

/** The HTTP status for an error: its code's, or 500 for anything not raised on purpose. */
export function httpStatusOf(error: unknown): number {
  return isAppError(error) ? ErrorKinds[error.code].httpStatus : 500
}
