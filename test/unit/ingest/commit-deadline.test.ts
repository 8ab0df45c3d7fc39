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
async function stateOf(promise: Promise<unknown>): Promise<unknown> {
  let state: unknown = 'pending'
  void promise.then(
    () => {
      state = 'resolved'
    },
    (error: unknown) => {
      state = error
    },
  )
  await new Promise((resolve) => setImmediate(resolve))
  return state
}

/** The process's pending timers (real ones: these tests never let them fire). */
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

/** An AbortSignal that counts the abort listeners on it. */
function countedSignal() {
  const controller = new AbortController()
  const signal = controller.signal
  const listeners = { added: 0, removed: 0 }
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners.added++
    add(...args)
  }) as typeof signal.addEventListener
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners.removed++
    remove(...args)
  }) as typeof signal.removeEventListener
  return { controller, signal, listeners }
}

describe('commitWithin', () => {
  test('should resolve when the commit does', async () => {
    const commit = pendingCommit()
    const waiting = commitWithin(commit.promise, 30_000, new AbortController().signal)
    assert.equal(await stateOf(waiting), 'pending')
    commit.resolve()
    assert.equal(await stateOf(waiting), 'resolved')
  })

  test("should reject with the commit's own error", async () => {
    const commit = pendingCommit()
    const waiting = commitWithin(commit.promise, 30_000, new AbortController().signal)
    const error = new Error('REBALANCE_IN_PROGRESS')
    commit.reject(error)
    assert.equal(await stateOf(waiting), error)
  })

  test('should give up with a CommitAbandoned after timeoutMs', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const waiting = commitWithin(pendingCommit().promise, 30_000, new AbortController().signal)
    t.mock.timers.tick(29_999)
    assert.equal(await stateOf(waiting), 'pending')
    t.mock.timers.tick(1)
    const state = await stateOf(waiting)
    assert.ok(state instanceof CommitAbandoned)
    assert.match(state.message, /timed out after 30000 ms/)
  })

  test("should give up with the abandon signal's reason when it aborts", async () => {
    const abandon = new AbortController()
    const waiting = commitWithin(pendingCommit().promise, 30_000, abandon.signal)
    const reason = new CommitAbandoned('stopping')
    abandon.abort(reason)
    assert.equal(await stateOf(waiting), reason)
  })

  test('should give up at once on a signal aborted before the commit, unless the commit has already landed', async () => {
    const abandon = new AbortController()
    const reason = new CommitAbandoned('out of the group')
    abandon.abort(reason)
    assert.equal(await stateOf(commitWithin(pendingCommit().promise, 30_000, abandon.signal)), reason)
    assert.equal(await stateOf(commitWithin(Promise.resolve(), 30_000, abandon.signal)), 'resolved')
  })

  test('should leave no timer and no abort listener behind, however it ends', async () => {
    // Every batch commits under the same signal: listeners left behind would pile up for the
    // session's life, and a timer left behind keeps a stopping process alive for 30 s.
    const { controller, signal, listeners } = countedSignal()
    const before = timers()

    const landed = pendingCommit()
    const waitingLanded = commitWithin(landed.promise, 30_000, signal)
    assert.equal(timers(), before + 1)
    landed.resolve()
    await waitingLanded

    const refused = pendingCommit()
    const waitingRefused = commitWithin(refused.promise, 30_000, signal)
    refused.reject(new Error('NOT_COORDINATOR'))
    await assert.rejects(waitingRefused, /NOT_COORDINATOR/)

    const waitingAbandoned = commitWithin(pendingCommit().promise, 30_000, signal)
    controller.abort(new CommitAbandoned('stopping'))
    await assert.rejects(waitingAbandoned, CommitAbandoned)

    assert.equal(timers(), before)
    assert.deepEqual(listeners, { added: 3, removed: 3 })
  })
})
