import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { longestPartitionStall, longestStall } from '../../../chaos/stall-figures.ts'

const counter = (pairs: [number, number][]) => pairs.map(([at, value]) => ({ at, value }))

describe('longestStall', () => {
  test('should measure from the last rise to the next rise, for stretches overlapping the window', () => {
    const samples = counter([
      [0, 0],
      [1, 5],
      [2, 5],
      [3, 5],
      [9, 6],
      [10, 9],
      [30, 10],
    ])
    assert.equal(longestStall(samples, 2, 9.5), 8)
    // the 20-long stretch from 10 to 30 overlaps a window that ends at 12
    assert.equal(longestStall(samples, 2, 12), 20)
    assert.equal(longestStall(samples, 31, 40), 0)
  })
})

describe('longestPartitionStall', () => {
  const at = (time: number, positions: [number, number, number][]) => ({
    at: time,
    value: new Map(positions.map(([partition, committed, lag]) => [partition, { committed, lag }])),
  })

  test('should find the partition whose commits stood still longest while messages waited', () => {
    const samples = [
      at(0, [
        [0, 10, 5],
        [1, 10, 5],
      ]),
      at(1, [
        [0, 20, 5],
        [1, 10, 5],
      ]),
      // no answer from the cluster for a while: the stretch counts whole
      at(7, [
        [0, 30, 5],
        [1, 10, 5],
      ]),
      at(8, [
        [0, 40, 0],
        [1, 50, 0],
      ]),
    ]
    assert.deepEqual(longestPartitionStall(samples, 0, 10), { partition: 1, ms: 8 })
  })

  test('should not count a partition that had nothing waiting', () => {
    const samples = [at(0, [[0, 10, 0]]), at(5, [[0, 10, 0]]), at(6, [[0, 11, 0]])]
    assert.deepEqual(longestPartitionStall(samples, 0, 10), { partition: -1, ms: 0 })
  })
})
