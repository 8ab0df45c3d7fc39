/**
 * What a failure of PostgreSQL means for the work that met it, decided on the SQLSTATE that
 * node-postgres puts on `DatabaseError.code` (the PostgreSQL manual's appendix "PostgreSQL Error
 * Codes": the first two characters are the class), never on message text.
 *
 * - unavailable: retry the same work later. Connection errors (no SQLSTATE: ECONNREFUSED,
 *   ECONNRESET, timeouts, "Connection terminated"), 08 connection exception, 40 transaction
 *   rollback (40001 serialization failure, 40P01 deadlock), 53 insufficient resources, 55 object
 *   not in prerequisite state (55P03 lock timeout), 57 operator intervention (57P01 admin
 *   shutdown, 57014 query canceled), 58 system error. Classes this list does not know count here
 *   too: retrying loses nothing, and a failure that lasts shows in readiness and metrics.
 * - rejected: the data itself, refused again however often it is sent. 21 cardinality violation
 *   (21000: one statement asked to change a row twice), 22 data exception, 23 integrity
 *   constraint violation, 54 program limit exceeded (an index row too large).
 * - fault: refused for a reason outside the data, a bug or the set-up, that an operator must fix.
 *   42 syntax error or access rule violation, 0A feature not supported, 28 invalid authorization,
 *   3D invalid catalog name, 3F invalid schema name, 25/2D transaction state, 26 statement name,
 *   P0 PL/pgSQL, XX internal error (corruption).
 */
import { AppError, ErrorCodes } from '../errors.ts'

export const DatabaseFailures = {
  UNAVAILABLE: 'unavailable',
  REJECTED: 'rejected',
  FAULT: 'fault',
} as const
export type DatabaseFailure = (typeof DatabaseFailures)[keyof typeof DatabaseFailures]

const REJECTED_CLASSES = new Set(['21', '22', '23', '54'])
const FAULT_CLASSES = new Set(['42', '0A', '28', '3D', '3F', '25', '2D', '26', 'P0', 'XX'])

/** The SQLSTATE of an error PostgreSQL reported, or undefined for any other error. */
export function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  // A server error carries a severity; Node's system errors (EPIPE has five capitals too) do not.
  if (typeof code !== 'string' || severity === undefined || !/^[0-9A-Z]{5}$/.test(code)) return undefined
  return code
}

/** Which of the three kinds of failure an error from PostgreSQL (or from reaching it) is. */
export function classifyDatabaseError(error: unknown): DatabaseFailure {
  const sqlstate = sqlstateOf(error)
  if (sqlstate === undefined) return DatabaseFailures.UNAVAILABLE
  const errorClass = sqlstate.slice(0, 2)
  if (REJECTED_CLASSES.has(errorClass)) return DatabaseFailures.REJECTED
  if (FAULT_CLASSES.has(errorClass)) return DatabaseFailures.FAULT
  return DatabaseFailures.UNAVAILABLE
}

const CODE_OF = {
  unavailable: ErrorCodes.DATABASE_UNAVAILABLE,
  rejected: ErrorCodes.DATABASE_REJECTED,
  fault: ErrorCodes.DATABASE_FAULT,
} as const

/**
 * The AppError for a failure of PostgreSQL: RSVP_DATABASE_UNAVAILABLE, _REJECTED or _FAULT, with
 * `sqlstate` (when the server gave one) in its context and the original error as its cause. The
 * message is the server's (it names no secret: the connection string never reaches it).
 * An AppError is returned as it is.
 */
export function toDatabaseError(error: unknown): AppError {
  if (error instanceof AppError) return error
  const failure = classifyDatabaseError(error)
  const sqlstate = sqlstateOf(error)
  const message = error instanceof Error ? error.message : String(error)
  return new AppError(CODE_OF[failure], sqlstate === undefined ? message : `${message} (SQLSTATE ${sqlstate})`, {
    cause: error,
    ...(sqlstate !== undefined && { sqlstate }),
    failure,
  })
}

/** The SQLSTATE an AppError made by toDatabaseError carries. */
export function sqlstateOfAppError(error: AppError): string | undefined {
  const sqlstate = error.context.sqlstate
  return typeof sqlstate === 'string' ? sqlstate : undefined
}
