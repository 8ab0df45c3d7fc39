import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { AppError, ErrorCodes, ErrorKinds, httpStatusOf } from '../../src/errors.ts'

describe('the error registry', () => {
  test('docs/errors.md should list every code with its retryability and HTTP status', () => {
    const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    for (const code of Object.values(ErrorCodes)) {
      const row = page.split('\n').find((line) => line.startsWith(`| \`${code}\``))
      assert.ok(row, `docs/errors.md lists ${code}`)
      const [, , retryable, status] = row.split('|').map((cell) => cell.trim())
      assert.equal(retryable, ErrorKinds[code].retryable ? 'yes' : 'no', `${code} retryable`)
      assert.equal(Number(status), ErrorKinds[code].httpStatus, `${code} HTTP status`)
    }
  })

  test('an AppError should take its retryability from the registry unless told otherwise', () => {
    assert.equal(new AppError(ErrorCodes.DATABASE_UNAVAILABLE, 'x').retryable, true)
    assert.equal(new AppError(ErrorCodes.DATABASE_REJECTED, 'x').retryable, false)
    assert.equal(new AppError(ErrorCodes.USAGE, 'x', { retryable: true }).retryable, true)
  })

  test('httpStatusOf should map codes through the registry, and anything else to 500', () => {
    assert.equal(httpStatusOf(new AppError(ErrorCodes.DATABASE_UNAVAILABLE, 'x')), 503)
    assert.equal(httpStatusOf(new AppError(ErrorCodes.NOT_FOUND, 'x')), 404)
    assert.equal(httpStatusOf(new TypeError('boom')), 500)
  })
})
