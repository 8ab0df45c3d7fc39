import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { historyPoints, stepStart } from '../../../src/domain/history.ts'

const H = 3_600_000
const D = 24 * H
const DAY0 = Date.parse('2026-11-01T00:00:00Z')

describe('historyPoints', () => {
  test('should give one point per hour, zeros where nothing was counted', () => {
    const hours = [
      { hourStart: DAY0 + H, yes: 2, attendees: 5 },
      { hourStart: DAY0 + 3 * H, yes: -1, attendees: -1 },
    ]
    assert.deepEqual(historyPoints(hours, DAY0, DAY0 + 4 * H, 'hour'), [
      { start: DAY0, yes: 0, attendees: 0 },
      { start: DAY0 + H, yes: 2, attendees: 5 },
      { start: DAY0 + 2 * H, yes: 0, attendees: 0 },
      { start: DAY0 + 3 * H, yes: -1, attendees: -1 },
    ])
  })

  test('should add up the hours of each UTC day, and ignore hours outside the range', () => {
    const hours = [
      { hourStart: DAY0 - H, yes: 100, attendees: 100 },
      { hourStart: DAY0, yes: 1, attendees: 1 },
      { hourStart: DAY0 + 23 * H, yes: 2, attendees: 3 },
      { hourStart: DAY0 + D + 5 * H, yes: 4, attendees: 4 },
      { hourStart: DAY0 + 2 * D, yes: 100, attendees: 100 },
    ]
    assert.deepEqual(historyPoints(hours, DAY0, DAY0 + 2 * D, 'day'), [
      { start: DAY0, yes: 3, attendees: 4 },
      { start: DAY0 + D, yes: 4, attendees: 4 },
    ])
  })

  test('should round instants down to their step, before 1970 too', () => {
    assert.equal(stepStart(DAY0 + 5 * H + 1, 'hour'), DAY0 + 5 * H)
    assert.equal(stepStart(DAY0 + 5 * H + 1, 'day'), DAY0)
    assert.equal(stepStart(-1, 'day'), -D)
  })
})
