import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CommitAbandoned, commitWithin } from '../../../src/ingest/commit-deadline.ts'

/** A commit the test settles by hand. */
function pendingCommit() {
  let resolve: () => void = () => {}
  let reject: (error: Error) => void = () => {}
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** What `promise` has become once the queued callbacks have run: 'pending', 'resolved' or its error. */
async function stateOf(promise: Promise<unknown>): Promise<'pending' | 'resolved' | unknown> {
  let state: unknown = 'pending'
  void promise.then(
    () => {
      state = 'resolved'
    },
    (error: unknown) => {
      state = error
    },
  )
  for (let i = 0; i < 10; i++) await Promise.resolve()
  return state
}

describe('commitWithin', () => {
  test('should resolve when the commit does, and leave no timer behind', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const commit = pendingCommit()
    const waiting = commitWithin(commit.promise, {
      timeoutMs: 30_000,
      stop: new AbortController().signal,
      stopGraceMs: 3000,
    })
    commit.resolve()
    assert.equal(await stateOf(waiting), 'resolved')
    // A timer left behind would reject nobody's promise, but keep a stopping process alive.
    t.mock.timers.tick(60_000)
    assert.equal(await stateOf(waiting), 'resolved')
  })

  test("should reject with the commit's own error", async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const commit = pendingCommit()
    const waiting = commitWithin(commit.promise, {
      timeoutMs: 30_000,
      stop: new AbortController().signal,
      stopGraceMs: 3000,
    })
    const error = new Error('REBALANCE_IN_PROGRESS')
    commit.reject(error)
    assert.equal(await stateOf(waiting), error)
  })

  test('should give up after timeoutMs while running', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const commit = pendingCommit()
    const waiting = commitWithin(commit.promise, {
      timeoutMs: 30_000,
      stop: new AbortController().signal,
      stopGraceMs: 3000,
    })
    t.mock.timers.tick(29_999)
    assert.equal(await stateOf(waiting), 'pending')
    t.mock.timers.tick(1)
    const state = await stateOf(waiting)
    assert.ok(state instanceof CommitAbandoned)
    assert.equal(state.stopping, false)
  })

  test('should give a commit pending when the ingest stops only stopGraceMs more', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const commit = pendingCommit()
    const stop = new AbortController()
    const waiting = commitWithin(commit.promise, { timeoutMs: 30_000, stop: stop.signal, stopGraceMs: 3000 })
    t.mock.timers.tick(10_000)
    stop.abort()
    t.mock.timers.tick(2999)
    assert.equal(await stateOf(waiting), 'pending')
    t.mock.timers.tick(1)
    const state = await stateOf(waiting)
    assert.ok(state instanceof CommitAbandoned)
    assert.equal(state.stopping, true)
  })

  test('should let a commit begun while stopping have stopGraceMs, and one that makes it succeed', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const stop = new AbortController()
    stop.abort()
    const late = pendingCommit()
    const abandoned = commitWithin(late.promise, { timeoutMs: 30_000, stop: stop.signal, stopGraceMs: 3000 })
    const quick = pendingCommit()
    const committed = commitWithin(quick.promise, { timeoutMs: 30_000, stop: stop.signal, stopGraceMs: 3000 })
    t.mock.timers.tick(2000)
    quick.resolve()
    assert.equal(await stateOf(committed), 'resolved')
    t.mock.timers.tick(1000)
    const state = await stateOf(abandoned)
    assert.ok(state instanceof CommitAbandoned && state.stopping)
  })

  test('should remove its abort listener once settled', async () => {
    const stop = new AbortController()
    let added = 0
    let removed = 0
    const signal = stop.signal
    const add = signal.addEventListener.bind(signal)
    const remove = signal.removeEventListener.bind(signal)
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++
      add(...args)
    }) as typeof signal.addEventListener
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++
      remove(...args)
    }) as typeof signal.removeEventListener
    // Every batch commits under the same signal: listeners left behind would pile up for the process's life.
    for (let i = 0; i < 3; i++)
      await commitWithin(Promise.resolve(), { timeoutMs: 30_000, stop: signal, stopGraceMs: 3000 })
    assert.equal(added, 3)
    assert.equal(removed, 3)
  })
})
