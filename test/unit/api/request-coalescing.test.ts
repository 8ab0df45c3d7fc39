import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createRequestCoalescer } from '../../../src/api/request-coalescing.ts'
import { createResponseCache } from '../../../src/api/response-cache.ts'

/**
 * Computations the test settles by hand, in the order it chooses: `compute(name)` starts one
 * (recording that it started) and `settle(name)` / `fail(name)` ends it.
 */
function manualComputations() {
  const started: string[] = []
  const pending = new Map<string, PromiseWithResolvers<string>>()
  return {
    started,
    compute: (name: string) => () => {
      started.push(name)
      const round = Promise.withResolvers<string>()
      pending.set(name, round)
      return round.promise
    },
    settle(name: string) {
      const round = pending.get(name)
      assert.ok(round, `${name} has not started`)
      round.resolve(name)
    },
    fail(name: string, error: Error) {
      const round = pending.get(name)
      assert.ok(round, `${name} has not started`)
      round.reject(error)
    },
  }
}

/** Lets every promise reaction that is ready run. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('createRequestCoalescer', () => {
  test('should start a computation at once when none runs for the key, one per key', async () => {
    const coalescer = createRequestCoalescer<string>()
    const work = manualComputations()
    const a = coalescer.get('a', work.compute('a1'))
    const b = coalescer.get('b', work.compute('b1'))
    assert.deepEqual(work.started, ['a1', 'b1'])
    work.settle('a1')
    work.settle('b1')
    assert.deepEqual(await Promise.all([a, b]), ['a1', 'b1'])
    assert.equal(coalescer.inFlight(), 0)
  })

  test('should never hand a request a computation that began before it arrived', async () => {
    const coalescer = createRequestCoalescer<string>()
    const work = manualComputations()
    const first = coalescer.get('q', work.compute('round 1'))
    // These arrive while round 1 runs: they share round 2, which must not start before round 1 ends.
    const second = coalescer.get('q', work.compute('round 2'))
    const third = coalescer.get('q', work.compute('not called'))
    await drain()
    assert.deepEqual(work.started, ['round 1'])
    work.settle('round 1')
    assert.equal(await first, 'round 1')
    await drain()
    assert.deepEqual(work.started, ['round 1', 'round 2'])
    // Round 2 runs now: a request arriving now waits for round 3.
    const fourth = coalescer.get('q', work.compute('round 3'))
    work.settle('round 2')
    assert.deepEqual(await Promise.all([second, third]), ['round 2', 'round 2'])
    await drain()
    assert.deepEqual(work.started, ['round 1', 'round 2', 'round 3'])
    work.settle('round 3')
    assert.equal(await fourth, 'round 3')
    assert.equal(coalescer.inFlight(), 0)
  })

  test('should give a failure to the requests that shared the round only, and keep nothing of it', async () => {
    const coalescer = createRequestCoalescer<string>()
    const work = manualComputations()
    const first = coalescer.get('q', work.compute('round 1'))
    const second = coalescer.get('q', work.compute('round 2'))
    work.fail('round 1', new Error('database unavailable'))
    await assert.rejects(first, /database unavailable/)
    await drain()
    work.settle('round 2')
    assert.equal(await second, 'round 2')
    assert.equal(coalescer.inFlight(), 0)
    const later = coalescer.get('q', work.compute('round 3'))
    assert.deepEqual(work.started, ['round 1', 'round 2', 'round 3'])
    work.settle('round 3')
    assert.equal(await later, 'round 3')
  })

  test('should tell of each request as it arrives whether it started a computation or waits', async () => {
    const told: string[] = []
    const coalescer = createRequestCoalescer<string>({ onRequest: (how) => told.push(how) })
    const work = manualComputations()
    const first = coalescer.get('q', work.compute('round 1'))
    const second = coalescer.get('q', work.compute('round 2'))
    const third = coalescer.get('q', work.compute('not called'))
    const other = coalescer.get('other', work.compute('other 1'))
    assert.deepEqual(told, ['started', 'waited', 'waited', 'started'])
    work.settle('round 1')
    work.settle('other 1')
    await Promise.all([first, other])
    await drain()
    work.settle('round 2')
    await Promise.all([second, third])
    assert.deepEqual(told, ['started', 'waited', 'waited', 'started'], 'a waiting round starting is no request')
  })

  test('should turn a computation that throws at once into a rejection', async () => {
    const coalescer = createRequestCoalescer<string>()
    const failing = () => {
      throw new Error('bad query')
    }
    await assert.rejects(coalescer.get('q', failing), /bad query/)
    assert.equal(coalescer.inFlight(), 0)
  })
})

describe('createResponseCache without reuse (ttlMs 0)', () => {
  test('should coalesce concurrent requests by default, and compute every one with coalesce false', async () => {
    for (const [coalesce, expected] of [
      [undefined, 2],
      [false, 3],
    ] as const) {
      const cache = createResponseCache({ ttlMs: 0, maxBytes: 2 ** 20, ...(coalesce !== undefined && { coalesce }) })
      let calls = 0
      const compute = async () => {
        const call = ++calls
        await drain()
        return Buffer.from(`answer ${call}`)
      }
      const answers = await Promise.all([cache.get('q', compute), cache.get('q', compute), cache.get('q', compute)])
      assert.equal(calls, expected, `coalesce ${coalesce}`)
      assert.equal(answers[0]?.toString(), 'answer 1')
      assert.equal(cache.bytes(), 0)
    }
  })
})
