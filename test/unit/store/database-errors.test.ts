import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes } from '../../../src/errors.ts'
import { classifyDatabaseError, sqlstateOf, toDatabaseError } from '../../../src/store/database-errors.ts'

/** An error shaped like node-postgres's DatabaseError. */
function serverError(code: string, message = 'server said no'): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' })
}

/** An error shaped like a Node system error. */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:25432`), { code, errno: -111, syscall: 'connect' })
}

describe('classifyDatabaseError', () => {
  const cases: [string, unknown, string][] = [
    ['index row too large (54000)', serverError('54000'), 'rejected'],
    ['a string too long (22001)', serverError('22001'), 'rejected'],
    ['invalid byte sequence (22021)', serverError('22021'), 'rejected'],
    ['integer out of range (22003)', serverError('22003'), 'rejected'],
    ['a check constraint (23514)', serverError('23514'), 'rejected'],
    ['a unique violation (23505)', serverError('23505'), 'rejected'],
    ['a row changed twice by one statement (21000)', serverError('21000'), 'rejected'],
    ['a serialization failure (40001)', serverError('40001'), 'unavailable'],
    ['a deadlock (40P01)', serverError('40P01'), 'unavailable'],
    ['an admin shutdown (57P01)', serverError('57P01'), 'unavailable'],
    ['a cancelled statement (57014)', serverError('57014'), 'unavailable'],
    ['too many connections (53300)', serverError('53300'), 'unavailable'],
    ['a lock timeout (55P03)', serverError('55P03'), 'unavailable'],
    ['a connection failure (08006)', serverError('08006'), 'unavailable'],
    ['an I/O error (58030)', serverError('58030'), 'unavailable'],
    ['an unknown class (ZZ999)', serverError('ZZ999'), 'unavailable'],
    ['an undefined table (42P01)', serverError('42P01'), 'fault'],
    ['permission denied (42501)', serverError('42501'), 'fault'],
    ['a wrong password (28P01)', serverError('28P01'), 'fault'],
    ['a missing database (3D000)', serverError('3D000'), 'fault'],
    ['a corrupt index (XX002)', serverError('XX002'), 'fault'],
    ['a connection refused', systemError('ECONNREFUSED'), 'unavailable'],
    ['a broken pipe (five capitals, not a SQLSTATE)', systemError('EPIPE'), 'unavailable'],
    ['a connection reset', systemError('ECONNRESET'), 'unavailable'],
    ['pg losing the connection', new Error('Connection terminated unexpectedly'), 'unavailable'],
    ['a client-side query timeout', new Error('Query read timeout'), 'unavailable'],
    ['something that is not an Error', 'boom', 'unavailable'],
  ]
  for (const [name, error, expected] of cases) {
    test(`should call ${name} ${expected}`, () => {
      assert.equal(classifyDatabaseError(error), expected)
    })
  }
})

describe('sqlstateOf', () => {
  test('should read the SQLSTATE of a server error only', () => {
    assert.equal(sqlstateOf(serverError('54000')), '54000')
    assert.equal(sqlstateOf(systemError('EPIPE')), undefined)
    assert.equal(sqlstateOf({ code: '54000' }), undefined, 'no severity: not from the server')
    assert.equal(sqlstateOf(null), undefined)
  })
})

describe('toDatabaseError', () => {
  test('should make an AppError whose code says what the failure means, with the SQLSTATE and the cause', () => {
    const cause = serverError('54000', 'index row size 2952 exceeds btree version 4 maximum 2704')
    const error = toDatabaseError(cause)
    assert.equal(error.code, ErrorCodes.DATABASE_REJECTED)
    assert.equal(error.retryable, false)
    assert.equal(error.context.sqlstate, '54000')
    assert.equal(error.cause, cause)
    assert.match(error.message, /index row size 2952 .* \(SQLSTATE 54000\)$/)
  })

  test('should make connection failures retryable, faults not', () => {
    assert.equal(toDatabaseError(systemError('ECONNREFUSED')).code, ErrorCodes.DATABASE_UNAVAILABLE)
    assert.equal(toDatabaseError(systemError('ECONNREFUSED')).retryable, true)
    assert.equal(toDatabaseError(serverError('42501')).code, ErrorCodes.DATABASE_FAULT)
    assert.equal(toDatabaseError(serverError('42501')).retryable, false)
  })

  test('should return an AppError as it is', () => {
    const first = toDatabaseError(serverError('23505'))
    assert.equal(toDatabaseError(first), first)
  })
})
