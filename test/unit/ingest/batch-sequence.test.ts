import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setImmediate } from 'node:timers/promises'
import { type BatchTurn, createBatchSequence } from '../../../src/ingest/batch-sequence.ts'

/** A batch whose progress the test drives by hand. */
function controlledBatch() {
  let finish: (ok: boolean) => void = () => {}
  const result = new Promise<boolean>((resolve) => {
    finish = resolve
  })
  const batch = {
    turn: undefined as BatchTurn | undefined,
    work: (turn: BatchTurn) => {
      batch.turn = turn
      return result
    },
    finish,
  }
  return batch
}

/** Whether a promise has settled by the time pending callbacks have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  void promise.then(
    () => {
      settled = true
    },
    () => {
      settled = true
    },
  )
  await setImmediate()
  return settled
}

describe('createBatchSequence', () => {
  test('should let a second batch begin only when the first has written its versions', async () => {
    const sequence = createBatchSequence()
    assert.equal(await isSettled(sequence.ready()), true, 'the first batch may begin at once')
    const first = controlledBatch()
    sequence.begin(first.work)
    assert.equal(await isSettled(sequence.ready()), false, 'not while the first writes its versions')
    first.turn?.versionsWritten()
    assert.equal(await isSettled(sequence.ready()), true)
  })

  test('should hold a third batch until the first has settled: two transactions at most', async () => {
    const sequence = createBatchSequence()
    const first = controlledBatch()
    const second = controlledBatch()
    sequence.begin(first.work)
    first.turn?.versionsWritten()
    await sequence.ready()
    sequence.begin(second.work)
    second.turn?.versionsWritten()
    assert.equal(await isSettled(sequence.ready()), false, 'the first is still in flight')
    first.finish(true)
    assert.equal(await isSettled(sequence.ready()), true)
  })

  test('should tell each batch whether every earlier batch succeeded, only once they have settled', async () => {
    const sequence = createBatchSequence()
    const [a, b, c] = [controlledBatch(), controlledBatch(), controlledBatch()]
    sequence.begin(a.work)
    a.turn?.versionsWritten()
    sequence.begin(b.work)
    assert.equal(await a.turn?.earlierSucceeded, true, 'nothing came before the first')
    assert.equal(await isSettled(b.turn?.earlierSucceeded as Promise<boolean>), false, 'a has not settled')
    a.finish(true)
    assert.equal(await b.turn?.earlierSucceeded, true)
    b.finish(false)
    await sequence.ready()
    sequence.begin(c.work)
    assert.equal(await c.turn?.earlierSucceeded, false, 'b failed: c must not commit its offsets')
    c.finish(true)
    assert.equal(await sequence.settled(), false, 'one batch of the session failed')
  })

  test('should not let a later failure take back an earlier success', async () => {
    const sequence = createBatchSequence()
    const [a, b] = [controlledBatch(), controlledBatch()]
    sequence.begin(a.work)
    a.turn?.versionsWritten()
    sequence.begin(b.work)
    b.finish(false) // the newer batch fails (e.g. abandoned at shutdown) while the older one is still at work
    assert.equal(await isSettled(sequence.settled()), false, 'settled waits for every batch')
    a.finish(true)
    assert.equal(await a.turn?.earlierSucceeded, true, 'the older batch still commits')
    assert.equal(await sequence.settled(), false)
  })

  test('should let the next batch begin when a batch ends without writing versions', async () => {
    const sequence = createBatchSequence()
    const first = controlledBatch()
    sequence.begin(first.work)
    first.finish(false)
    assert.equal(await isSettled(sequence.ready()), true)
    assert.equal(await createBatchSequence().settled(), true, 'an empty sequence has nothing that failed')
  })
})
