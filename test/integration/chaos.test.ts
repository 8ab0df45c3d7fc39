/**
 * The chaos suite's quick sizes (./dev.sh chaos --quick): each scenario's fault, done to the real
 * stack and real service processes, must leave the database exactly as the contract says and
 * every invalid message in the dead-letter topic. The full sizes run with ./dev.sh chaos.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { runScenario } from '../../chaos/run.ts'
import { scenarios } from '../../chaos/scenarios.ts'

describe('chaos (quick)', () => {
  for (const scenario of scenarios) {
    test(`${scenario.name} should stay exact: ${scenario.summary}`, async () => {
      const row = await runScenario(scenario.name, 'quick')
      assert.deepEqual(row.notes, [], `${scenario.name}: what differed`)
      assert.equal(row.exact, true)
      assert.ok(row.messagesIn > 0 && row.applied > 0)
    })
  }
})
