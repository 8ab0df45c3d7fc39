import assert from 'node:assert/strict'
import { loadConfig } from '../../src/config.ts'
import { ErrorCodes, isAppError } from '../../src/errors.ts'

/** The problems loadConfig reports for `env`; fails the test when it does not refuse it. */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (error) {
    assert.ok(isAppError(error, ErrorCodes.CONFIG_INVALID), 'expected a CONFIG_INVALID error')
    return error.context.problems as string[]
  }
  assert.fail('expected loadConfig to throw')
}
