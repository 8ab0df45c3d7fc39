import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { longestGroupStall } from '../../../chaos/stall-figures.ts'

const at = (time: number, positions: [number, number, number][]) => ({
  at: time,
  value: new Map(positions.map(([partition, committed, lag]) => [partition, { committed, lag }])),
})

describe('longestGroupStall', () => {
  test('should measure how long no partition of the group committed while messages waited', () => {
    const samples = [
      at(0, [
        [0, 10, 5],
        [1, 10, 5],
      ]),
      // partition 1 moves while partition 0 stands: the group made progress
      at(1, [
        [0, 10, 5],
        [1, 20, 5],
      ]),
      // a rebalance: nothing moves from 1 to 6
      at(3, [
        [0, 10, 9],
        [1, 20, 9],
      ]),
      at(6, [
        [0, 15, 4],
        [1, 20, 9],
      ]),
      at(7, [
        [0, 19, 0],
        [1, 29, 0],
      ]),
    ]
    assert.equal(longestGroupStall(samples, 0, 10), 5)
    // after it, only the time between two samples that both moved
    assert.equal(longestGroupStall(samples, 6.5, 10), 1)
  })

  test('should not count an idle group (nothing waiting)', () => {
    const samples = [at(0, [[0, 10, 0]]), at(5, [[0, 10, 0]]), at(9, [[0, 11, 0]])]
    assert.equal(longestGroupStall(samples, 0, 10), 0)
  })
})
