import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { batches } from '../../../src/ingest/batches.ts'

async function* timed(items: Array<number | 'pause'>, pauseMs: number): AsyncGenerator<number> {
  for (const item of items) {
    if (item === 'pause') await sleep(pauseMs)
    else yield item
  }
}

async function collect<T>(source: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = []
  for await (const batch of source) out.push(batch)
  return out
}

describe('batches', () => {
  test('should cut a batch when it reaches maxSize', async () => {
    const result = await collect(batches(timed([1, 2, 3, 4, 5, 6, 7], 0), { maxSize: 3, maxWaitMs: 1000 }))
    assert.deepEqual(result, [[1, 2, 3], [4, 5, 6], [7]])
  })

  test('should cut a batch once its items reach maxBytes, and take one item larger than that alone', async () => {
    const sizes = [400, 400, 300, 2000, 100, 100, 100]
    const result = await collect(
      batches(timed(sizes, 0), { maxSize: 100, maxWaitMs: 1000, maxBytes: 1000, sizeOf: (n) => n }),
    )
    assert.deepEqual(result, [[400, 400, 300], [2000], [100, 100, 100]])
  })

  test('should hand on a partial batch after maxWaitMs, and keep the item that arrives later', async () => {
    const result = await collect(batches(timed([1, 2, 'pause', 3, 4], 120), { maxSize: 100, maxWaitMs: 30 }))
    assert.deepEqual(result, [
      [1, 2],
      [3, 4],
    ])
  })

  test('should lose and duplicate nothing across many timer cuts', async () => {
    const items: Array<number | 'pause'> = []
    for (let i = 0; i < 200; i++) {
      items.push(i)
      if (i % 17 === 0) items.push('pause')
    }
    const result = await collect(batches(timed(items, 3), { maxSize: 7, maxWaitMs: 1 }))
    assert.deepEqual(
      result.flat(),
      Array.from({ length: 200 }, (_, i) => i),
    )
    assert.ok(result.every((batch) => batch.length >= 1 && batch.length <= 7))
  })

  test('should yield nothing for an empty source', async () => {
    assert.deepEqual(await collect(batches(timed([], 0), { maxSize: 3, maxWaitMs: 10 })), [])
  })

  test('should let the reader stop after a timer-cut batch even when the source never sends again', async () => {
    let released = false
    async function* stalls(): AsyncGenerator<number> {
      try {
        yield 1
        await new Promise(() => {}) // a quiet topic: the next message never comes
      } finally {
        released = true
      }
    }
    const stopped = (async () => {
      for await (const batch of batches(stalls(), { maxSize: 10, maxWaitMs: 20 })) {
        assert.deepEqual(batch, [1])
        break
      }
      return 'stopped'
    })()
    const outcome = await Promise.race([stopped, sleep(2000).then(() => 'hung')])
    assert.equal(outcome, 'stopped')
    assert.equal(released, false, 'the stalled source is abandoned, not awaited')
  })
})
