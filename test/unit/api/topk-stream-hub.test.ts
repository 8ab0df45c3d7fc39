import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createTopkStreamHub, type Ranking, type TopkStreamHubOptions } from '../../../src/api/topk-stream-hub.ts'
import { silentLogger } from '../../helpers.ts'
import { waitFor } from '../../support/http.ts'

interface Query {
  readonly name: string
  readonly clock?: boolean
}

/** A compute function whose calls the test answers one by one. */
function controlledCompute() {
  const calls: Array<{ query: Query; resolve: (body: string) => void; reject: (error: Error) => void }> = []
  const compute = (query: Query) =>
    new Promise<string>((resolve, reject) => {
      calls.push({ query, resolve, reject })
    })
  return { calls, compute }
}

function hubWith(compute: (query: Query) => Promise<string>, overrides: Partial<TopkStreamHubOptions<Query>> = {}) {
  const outcomes: string[] = []
  const hub = createTopkStreamHub<Query>({
    compute,
    clockDependent: (query) => query.clock === true,
    minIntervalMs: 0,
    clockIntervalMs: 60_000,
    retryMs: 1,
    onComputation: (outcome) => outcomes.push(outcome),
    logger: silentLogger,
    ...overrides,
  })
  return { hub, outcomes }
}

const waitUntil = (what: string, check: () => boolean) =>
  waitFor(what, async () => (check() ? true : undefined), 10_000)

describe('createTopkStreamHub', () => {
  test('should compute a query once for all of its subscribers and hand each the ranking', async () => {
    const { calls, compute } = controlledCompute()
    const { hub } = hubWith(compute)
    const seen: Ranking[][] = [[], []]
    const a = hub.subscribe('q', { name: 'q' }, (r) => seen[0]?.push(r))
    const b = hub.subscribe('q', { name: 'q' }, (r) => seen[1]?.push(r))
    assert.equal(calls.length, 1, 'one computation for two subscribers')
    assert.deepEqual(hub.size(), { subscriptions: 2, queries: 1 })
    calls[0]?.resolve('{"k":1}')
    assert.deepEqual(await hub.ranking('q'), { body: '{"k":1}', version: 1 })
    assert.deepEqual(seen, [[{ body: '{"k":1}', version: 1 }], [{ body: '{"k":1}', version: 1 }]])
    a.unsubscribe()
    b.unsubscribe()
    hub.close()
  })

  test('should fold every change during a computation into one more computation', async () => {
    const { calls, compute } = controlledCompute()
    const { hub } = hubWith(compute)
    const seen: string[] = []
    hub.subscribe('q', { name: 'q' }, (r) => seen.push(r.body))
    for (let i = 0; i < 5; i++) hub.changed()
    calls[0]?.resolve('first')
    await waitUntil('the second computation', () => calls.length === 2)
    for (let i = 0; i < 5; i++) hub.changed()
    calls[1]?.resolve('second')
    await waitUntil('the third computation', () => calls.length === 3)
    calls[2]?.resolve('third')
    await waitUntil('the third ranking', () => seen.length === 3)
    assert.deepEqual(seen, ['first', 'second', 'third'])
    assert.equal(calls.length, 3, 'ten changes in two computations cost two more computations')
    hub.close()
  })

  test('should hand on only rankings that differ from the last one', async () => {
    let body = 'same'
    const { hub, outcomes } = hubWith(async () => body)
    const seen: Ranking[] = []
    hub.subscribe('q', { name: 'q' }, (r) => seen.push(r))
    await hub.ranking('q')
    hub.changed()
    await waitUntil('the unchanged computation', () => outcomes.length === 2)
    body = 'other'
    hub.changed()
    await waitUntil('the changed computation', () => outcomes.length === 3)
    assert.deepEqual(outcomes, ['changed', 'unchanged', 'changed'])
    assert.deepEqual(seen, [
      { body: 'same', version: 1 },
      { body: 'other', version: 2 },
    ])
    hub.close()
  })

  test('should wait minIntervalMs between two computations of one query', async () => {
    const started: number[] = []
    const { hub } = hubWith(
      async () => {
        started.push(performance.now())
        return String(started.length)
      },
      { minIntervalMs: 100 },
    )
    hub.subscribe('q', { name: 'q' }, () => {})
    await hub.ranking('q')
    hub.changed()
    await waitUntil('the second computation', () => started.length === 2)
    assert.ok(
      (started[1] as number) - (started[0] as number) >= 99,
      `${(started[1] as number) - (started[0] as number)} ms apart`,
    )
    hub.close()
  })

  test('should compute distinct queries apart, and drop a query with its last subscriber', async () => {
    const { calls, compute } = controlledCompute()
    const { hub } = hubWith(compute)
    const a = hub.subscribe('a', { name: 'a' }, () => {})
    const b = hub.subscribe('b', { name: 'b' }, () => {})
    assert.deepEqual(
      calls.map((c) => c.query.name),
      ['a', 'b'],
    )
    for (const call of calls) call.resolve('x')
    await hub.ranking('a')
    await hub.ranking('b')
    a.unsubscribe()
    a.unsubscribe()
    assert.deepEqual(hub.size(), { subscriptions: 1, queries: 1 })
    hub.changed()
    await waitUntil('b computed again', () => calls.length === 3)
    assert.equal(calls[2]?.query.name, 'b', 'a query nobody follows is not computed')
    await assert.rejects(hub.ranking('a'), /no live ranking/)
    b.unsubscribe()
    // b's second computation is under way: the query goes when it ends, not before.
    assert.deepEqual(hub.size(), { subscriptions: 0, queries: 1 })
    calls[2]?.resolve('y')
    await waitUntil('b dropped once computed', () => hub.size().queries === 0)
    assert.equal(hub.has('b'), false)
    hub.close()
  })

  test('should count a query its streams left while it computes, until the computation ends', async () => {
    const { calls, compute } = controlledCompute()
    const { hub, outcomes } = hubWith(compute)
    // Streams opened and dropped at once, each on its own query: every computation queued is counted.
    for (const name of ['a', 'b', 'c']) hub.subscribe(name, { name }, () => {}).unsubscribe()
    assert.deepEqual(hub.size(), { subscriptions: 0, queries: 3 })
    assert.equal(hub.has('a'), true)
    hub.changed()
    assert.equal(calls.length, 3, 'a change waits for the computations under way')
    calls[1]?.resolve('ranking of b')
    calls[2]?.resolve('ranking of c')
    await waitUntil('b and c dropped once computed', () => hub.size().queries === 1)
    assert.equal(hub.has('b'), false, 'nobody follows b: the change it missed computes nothing')
    // A stream that comes back to a query still computing shares that computation.
    const seen: string[] = []
    const again = hub.subscribe('a', { name: 'a' }, (r) => seen.push(r.body))
    assert.equal(calls.length, 3)
    calls[0]?.resolve('ranking of a')
    assert.deepEqual(await hub.ranking('a'), { body: 'ranking of a', version: 1 })
    assert.deepEqual(seen, ['ranking of a'])
    // a is followed again, so the change that came while it computed is computed now.
    await waitUntil('a computed again', () => calls.length === 4)
    calls[3]?.resolve('ranking of a')
    await waitUntil('the second computation of a', () => outcomes.includes('unchanged'))
    again.unsubscribe()
    assert.deepEqual(hub.size(), { subscriptions: 0, queries: 0 })
    hub.close()
  })

  test('should reject the first ranking when it cannot be computed, and try again', async () => {
    const { calls, compute } = controlledCompute()
    const { hub, outcomes } = hubWith(compute)
    const seen: string[] = []
    hub.subscribe('q', { name: 'q' }, (r) => seen.push(r.body))
    const first = hub.ranking('q')
    calls[0]?.reject(new Error('PostgreSQL is away'))
    await assert.rejects(first, /PostgreSQL is away/)
    await waitUntil('the retry', () => calls.length === 2)
    calls[1]?.resolve('back')
    await waitUntil('the ranking', () => seen.length === 1)
    assert.deepEqual(outcomes, ['failed', 'changed'])
    hub.close()
  })

  test('should recompute only the queries that depend on the clock, on the clock', async () => {
    let computations = { clock: 0, fixed: 0 }
    const { hub } = hubWith(
      async (query) => {
        computations = { ...computations, [query.name]: computations[query.name as 'clock' | 'fixed'] + 1 }
        return String(Math.random())
      },
      { clockIntervalMs: 5 },
    )
    hub.subscribe('clock', { name: 'clock', clock: true }, () => {})
    hub.subscribe('fixed', { name: 'fixed' }, () => {})
    await waitUntil('three clock computations', () => computations.clock >= 3)
    assert.equal(computations.fixed, 1)
    hub.close()
  })
})
