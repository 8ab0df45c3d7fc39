import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type RecordBatch, recordBatches } from '../../../src/ingest/record-batches.ts'
import type { ConsumedMessage } from '../../../src/kafka/records.ts'

/** A consumed record whose value is its number (as text) padded to `bytes`, on partition n % 3. */
function message(n: number, bytes = 0): ConsumedMessage {
  return {
    topic: 'rsvps',
    partition: n % 3,
    offset: BigInt(n),
    key: null,
    value: Buffer.from(String(n).padEnd(bytes, ' ')),
    headers: [],
    commit: () => Promise.resolve(),
  }
}

async function* timed(items: Array<ConsumedMessage | 'pause'>, pauseMs: number): AsyncGenerator<ConsumedMessage> {
  for (const item of items) {
    if (item === 'pause') await sleep(pauseMs)
    else yield item
  }
}

const numbers = (batch: RecordBatch) =>
  Array.from({ length: batch.records.length }, (_, i) => Number(batch.records.value(i)?.toString().trim()))

async function collect(source: AsyncIterable<RecordBatch>): Promise<number[][]> {
  const out: number[][] = []
  for await (const batch of source) out.push(numbers(batch))
  return out
}

const messages = (...ns: number[]) => ns.map((n) => message(n))

describe('recordBatches', () => {
  test('should cut a batch when it reaches maxSize', async () => {
    const result = await collect(
      recordBatches(timed(messages(1, 2, 3, 4, 5, 6, 7), 0), { maxSize: 3, maxWaitMs: 60_000 }),
    )
    assert.deepEqual(result, [[1, 2, 3], [4, 5, 6], [7]])
  })

  test('should cut a batch once its bytes reach maxBytes, and take one record larger than that alone', async () => {
    const sized = [400, 400, 300, 2000, 100, 100, 100].map((bytes, i) => message(i, bytes))
    const result = await collect(recordBatches(timed(sized, 0), { maxSize: 100, maxWaitMs: 60_000, maxBytes: 1000 }))
    assert.deepEqual(result, [[0, 1, 2], [3], [4, 5, 6]])
  })

  test('should hand on a partial batch after maxWaitMs, and keep the record that arrives later', async () => {
    // The source sends 3 and 4 only once the test holds a batch: so [1, 2] can only come from the timer.
    let firstBatchSeen: () => void = () => {}
    const seen = new Promise<void>((resolve) => {
      firstBatchSeen = resolve
    })
    async function* source(): AsyncGenerator<ConsumedMessage> {
      yield* messages(1, 2)
      await seen
      yield* messages(3, 4)
    }
    const result: number[][] = []
    for await (const batch of recordBatches(source(), { maxSize: 100, maxWaitMs: 30 })) {
      result.push(numbers(batch))
      firstBatchSeen()
    }
    assert.deepEqual(result, [
      [1, 2],
      [3, 4],
    ])
  })

  test('should lose and duplicate nothing across many timer cuts', async () => {
    const items: Array<ConsumedMessage | 'pause'> = []
    for (let i = 0; i < 200; i++) {
      items.push(message(i))
      if (i % 17 === 0) items.push('pause')
    }
    const result = await collect(recordBatches(timed(items, 3), { maxSize: 7, maxWaitMs: 1 }))
    assert.deepEqual(
      result.flat(),
      Array.from({ length: 200 }, (_, i) => i),
    )
    assert.ok(result.every((batch) => batch.length >= 1 && batch.length <= 7))
  })

  test('should give each partition its last record as the commit point', async () => {
    const batches: RecordBatch[] = []
    for await (const batch of recordBatches(timed(messages(0, 1, 2, 3, 4, 5, 6), 0), {
      maxSize: 5,
      maxWaitMs: 60_000,
    })) {
      batches.push(batch)
    }
    const points = batches.map((b) => b.commits.map((c) => [c.partition, Number(c.offset)]).sort())
    assert.deepEqual(points, [
      [
        [0, 3],
        [1, 4],
        [2, 2],
      ],
      [
        [0, 6],
        [2, 5],
      ],
    ])
  })

  test('should read at most readAhead records while the reader is busy, and the rest once it asks', async () => {
    let pulled = 0
    async function* counted(): AsyncGenerator<ConsumedMessage> {
      for (let i = 0; i < 100; i++) {
        pulled++
        yield message(i)
      }
    }
    const iterator = recordBatches(counted(), { maxSize: 10, maxWaitMs: 60_000, readAhead: 4 })[Symbol.asyncIterator]()
    const first = await iterator.next()
    assert.equal(first.done, false)
    assert.equal((first.value as RecordBatch).records.length, 10, 'a reader that asks gets a full batch')
    // The reader is busy now: the source is read until readAhead records wait, and then no further.
    await waitFor(() => pulled >= 14)
    for (let i = 0; i < 5; i++) await sleep(10)
    assert.equal(pulled, 14, 'four read ahead (the records of a paused pump beyond them are not pulled)')
    const second = await iterator.next()
    assert.deepEqual(numbers(second.value as RecordBatch), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    await iterator.return(undefined)
  })

  test('should release a source it paused on when the reader stops, and throw an error met while paused', async () => {
    let released = false
    async function* endless(): AsyncGenerator<ConsumedMessage> {
      try {
        for (let i = 0; ; i++) yield message(i)
      } finally {
        released = true
      }
    }
    for await (const batch of recordBatches(endless(), { maxSize: 5, maxWaitMs: 60_000 })) {
      assert.equal(batch.records.length, 5)
      break
    }
    await waitFor(() => released)

    let pulledAfterPause = 0
    async function* failsLater(): AsyncGenerator<ConsumedMessage> {
      yield* messages(1, 2, 3, 4, 5, 6)
      pulledAfterPause++
      throw new Error('the session broke while the reader was busy')
    }
    const iterator = recordBatches(failsLater(), { maxSize: 3, maxWaitMs: 60_000 })[Symbol.asyncIterator]()
    assert.deepEqual(numbers((await iterator.next()).value as RecordBatch), [1, 2, 3])
    assert.deepEqual(numbers((await iterator.next()).value as RecordBatch), [4, 5, 6])
    await assert.rejects(iterator.next(), /the session broke while the reader was busy/)
    assert.equal(pulledAfterPause, 1)
  })

  test('should read one record ahead at least, whatever readAhead says', async () => {
    for (const readAhead of [0, -1, Number.NaN]) {
      const result = await collect(
        recordBatches(timed(messages(1, 2, 3, 4, 5), 0), { maxSize: 2, maxWaitMs: 60_000, readAhead }),
      )
      assert.deepEqual(result, [[1, 2], [3, 4], [5]], `readAhead ${readAhead}`)
    }
    await assert.rejects(recordBatches(timed([], 0), { maxSize: 0, maxWaitMs: 1 }).next(), RangeError)
  })

  test('should yield nothing for an empty source', async () => {
    assert.deepEqual(await collect(recordBatches(timed([], 0), { maxSize: 3, maxWaitMs: 10 })), [])
  })

  test('should throw the source’s error in place of the batch being filled', async () => {
    async function* failing(): AsyncGenerator<ConsumedMessage> {
      yield* messages(1, 2, 3)
      yield message(4)
      throw new Error('the session broke')
    }
    const seen: number[][] = []
    await assert.rejects(async () => {
      for await (const batch of recordBatches(failing(), { maxSize: 3, maxWaitMs: 60_000 })) seen.push(numbers(batch))
    }, /the session broke/)
    assert.deepEqual(seen, [[1, 2, 3]])
  })

  test('should let the reader stop after a timer-cut batch even when the source never sends again', async () => {
    let released = false
    async function* stalls(): AsyncGenerator<ConsumedMessage> {
      try {
        yield message(1)
        await new Promise(() => {}) // a quiet topic: the next message never comes
      } finally {
        released = true
      }
    }
    const stopped = (async () => {
      for await (const batch of recordBatches(stalls(), { maxSize: 10, maxWaitMs: 20 })) {
        assert.deepEqual(numbers(batch), [1])
        break
      }
      return 'stopped'
    })()
    const outcome = await Promise.race([stopped, sleep(2000).then(() => 'hung')])
    assert.equal(outcome, 'stopped')
    assert.equal(released, false, 'the stalled source is abandoned, not awaited')
  })
})

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(1)
}
