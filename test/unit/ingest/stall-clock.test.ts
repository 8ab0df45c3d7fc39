import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createStallClock } from '../../../src/ingest/stall-clock.ts'

function clock() {
  let now = 1_000_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('createStallClock', () => {
  test('should read 0 while nothing waits, however long since the last commit', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    time.advance(3_600_000)
    assert.equal(stall.stalledSeconds(), 0)
  })

  test('should count from when messages began to wait, not from a commit long before', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    time.advance(3_600_000)
    stall.received()
    time.advance(2500)
    assert.equal(stall.stalledSeconds(), 2.5)
  })

  test('should count from the last commit while batches keep coming', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.received()
    stall.received()
    time.advance(1000)
    stall.settled(true)
    time.advance(400)
    assert.equal(stall.stalledSeconds(), 0.4)
  })

  test('should keep counting through batches that were given up', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.received()
    time.advance(5000)
    stall.settled(false)
    time.advance(5000)
    assert.equal(stall.stalledSeconds(), 10)
    stall.received()
    stall.settled(true)
    assert.equal(stall.stalledSeconds(), 0)
  })

  test('should see a partition that nobody consumes, though this process receives nothing', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.group(new Map([[0, { lag: 0, committed: 100 }]]))
    time.advance(1000)
    stall.group(new Map([[0, { lag: 5000, committed: 100 }]]))
    time.advance(30_000)
    stall.group(new Map([[0, { lag: 7000, committed: 100 }]]))
    assert.equal(stall.stalledSeconds(), 30)
  })

  test('should not count a lag of one, which a transaction marker at the end of a partition leaves for good', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.group(new Map([[0, { lag: 1, committed: 100 }]]))
    time.advance(600_000)
    stall.group(new Map([[0, { lag: 1, committed: 100 }]]))
    assert.equal(stall.stalledSeconds(), 0)
    stall.group(new Map([[0, { lag: 2, committed: 100 }]]))
    time.advance(10_000)
    assert.equal(stall.stalledSeconds(), 10, 'more than the marker waits')
  })

  test('should see one stuck partition while the others move on', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    const positions = (stuck: number, moving: number) =>
      new Map([
        [0, { lag: 50, committed: stuck }],
        [1, { lag: 50, committed: moving }],
      ])
    stall.group(positions(10, 10))
    for (let i = 1; i <= 4; i++) {
      time.advance(5000)
      stall.group(positions(10, 10 + i * 100))
    }
    assert.equal(stall.stalledSeconds(), 20)
  })

  test('should read 0 once every partition is caught up', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.group(new Map([[0, { lag: 10, committed: 0 }]]))
    time.advance(9000)
    stall.group(new Map([[0, { lag: 0, committed: 10 }]]))
    assert.equal(stall.stalledSeconds(), 0)
  })
})
