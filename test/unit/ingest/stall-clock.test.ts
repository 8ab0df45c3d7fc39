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

  test('should keep counting through batches that were given up, and while the lag says messages wait', () => {
    const time = clock()
    const stall = createStallClock(time.now)
    stall.received()
    time.advance(5000)
    stall.settled(false)
    stall.lag(120)
    time.advance(5000)
    assert.equal(stall.stalledSeconds(), 10)
    stall.lag(0)
    assert.equal(stall.stalledSeconds(), 0)
  })
})
