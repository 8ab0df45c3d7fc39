import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Clock, createPacer } from '../../../src/producer/pacing.ts'

/** A clock that only moves when the pacer sleeps (or the test says so); it records every sleep. */
function fakeClock(start = 1000) {
  let now = start
  const sleeps: number[] = []
  const clock: Clock = {
    now: () => now,
    async sleep(ms, signal) {
      if (signal?.aborted) return
      sleeps.push(ms)
      now += ms
    },
  }
  return { clock, sleeps, advance: (ms: number) => (now += ms), now: () => now }
}

/** Takes until `total` messages went; returns each batch with the time it was released. */
async function drain(pacer: ReturnType<typeof createPacer>, total: number, max: number, now: () => number) {
  const batches: { at: number; count: number }[] = []
  let sent = 0
  while (sent < total) {
    const count = await pacer.take(Math.min(max, total - sent))
    batches.push({ at: now(), count })
    sent += count
  }
  return batches
}

describe('createPacer', () => {
  test('without a rate should release the whole batch at once', async () => {
    const { clock, sleeps } = fakeClock()
    const pacer = createPacer({ clock })
    assert.equal(await pacer.take(1000), 1000)
    assert.equal(await pacer.take(7), 7)
    assert.deepEqual(sleeps, [])
  })

  test('should hold a high rate in small batches on a short tick, never a second at once', async () => {
    const { clock, now } = fakeClock()
    const pacer = createPacer({ rate: 10_000, tickMs: 10, clock })
    const start = now()
    const batches = await drain(pacer, 20_000, 5000, now)
    // 100 messages per 10 ms tick
    assert.ok(
      batches.every((b) => b.count <= 100),
      `largest batch ${Math.max(...batches.map((b) => b.count))}`,
    )
    // the first batch goes at once, so 20,000 take 2 s minus one tick
    const elapsed = now() - start
    assert.ok(elapsed >= 1980 && elapsed <= 2000, `${elapsed} ms`)
    // and any second holds 10,000 give or take the one tick that straddles its edge
    for (const first of batches) {
      const inSecond = batches
        .filter((b) => b.at >= first.at && b.at < first.at + 1000)
        .reduce((n, b) => n + b.count, 0)
      assert.ok(inSecond <= 10_100, `the second from ${first.at - start} ms: ${inSecond}`)
    }
  })

  test('should space a low rate one message at a time', async () => {
    const { clock, now, sleeps } = fakeClock()
    const pacer = createPacer({ rate: 2, clock })
    const batches = await drain(pacer, 4, 100, now)
    assert.deepEqual(
      batches.map((b) => b.count),
      [1, 1, 1, 1],
    )
    assert.deepEqual(sleeps, [500, 500, 500])
  })

  test('should follow a fractional rate', async () => {
    const { clock, now, sleeps } = fakeClock()
    const pacer = createPacer({ rate: 0.5, clock })
    await drain(pacer, 3, 10, now)
    assert.deepEqual(sleeps, [2000, 2000])
  })

  test('should never release more than asked for', async () => {
    const { clock, advance } = fakeClock()
    const pacer = createPacer({ rate: 1000, clock })
    await pacer.take(1)
    advance(50)
    assert.equal(await pacer.take(3), 3)
  })

  test('should catch up at most slackMs after the sender stalled, not burst the lost time', async () => {
    const { clock, advance } = fakeClock()
    const pacer = createPacer({ rate: 1000, tickMs: 10, slackMs: 100, clock })
    assert.equal(await pacer.take(10), 10)
    advance(5000)
    // 5 s lost would be 5,000 messages; only 100 ms of them (plus the one due now) may go
    assert.equal(await pacer.take(10_000), 101)
    // and then the schedule goes on from there
    assert.equal(await pacer.take(10_000), 10)
  })

  test('should return 0 once the signal aborts, also in the middle of a wait', async () => {
    const controller = new AbortController()
    const clock: Clock = {
      now: () => 0,
      // a clock whose time never comes: only the abort ends this wait
      sleep: (_ms, signal) =>
        new Promise((resolve) => {
          signal?.addEventListener('abort', () => resolve(), { once: true })
        }),
    }
    const pacer = createPacer({ rate: 1, clock })
    assert.equal(await pacer.take(1, controller.signal), 1)
    const waiting = pacer.take(1, controller.signal)
    controller.abort()
    assert.equal(await waiting, 0)
    assert.equal(await pacer.take(1, controller.signal), 0)
    assert.equal(await createPacer({ clock }).take(5, controller.signal), 0)
  })

  test('should refuse a rate that is not a positive number', () => {
    for (const rate of [0, -1, Number.NaN]) {
      assert.throws(() => createPacer({ rate }), RangeError, String(rate))
    }
  })

  test('take should refuse to release fewer than one message', async () => {
    await assert.rejects(createPacer({ rate: 5 }).take(0), RangeError)
  })
})
