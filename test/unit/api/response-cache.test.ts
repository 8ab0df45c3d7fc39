import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createResponseCache } from '../../../src/api/response-cache.ts'

function counter() {
  let calls = 0
  return {
    compute: (value: string) => async () => {
      calls++
      return value
    },
    calls: () => calls,
  }
}

describe('createResponseCache', () => {
  test('should answer from the cache until the TTL has passed, then compute again', async () => {
    let time = 1000
    const cache = createResponseCache<string>({ ttlMs: 250, maxEntries: 10, now: () => time })
    const c = counter()
    assert.equal(await cache.get('q', c.compute('a')), 'a')
    time += 249
    assert.equal(await cache.get('q', c.compute('b')), 'a')
    assert.equal(c.calls(), 1)
    time += 1
    assert.equal(await cache.get('q', c.compute('c')), 'c')
    assert.equal(c.calls(), 2)
  })

  test('should share one computation among concurrent requests for a key', async () => {
    const cache = createResponseCache<string>({ ttlMs: 1000, maxEntries: 10, now: () => 0 })
    let release: (value: string) => void = () => {}
    let calls = 0
    const compute = () => {
      calls++
      return new Promise<string>((resolve) => {
        release = resolve
      })
    }
    const answers = Promise.all([cache.get('q', compute), cache.get('q', compute), cache.get('q', compute)])
    release('shared')
    assert.deepEqual(await answers, ['shared', 'shared', 'shared'])
    assert.equal(calls, 1)
  })

  test('should keep keys apart', async () => {
    const cache = createResponseCache<string>({ ttlMs: 1000, maxEntries: 10, now: () => 0 })
    assert.equal(await cache.get('a', async () => 'A'), 'A')
    assert.equal(await cache.get('b', async () => 'B'), 'B')
    assert.equal(await cache.get('a', async () => 'other'), 'A')
  })

  test('should not keep a failure', async () => {
    const cache = createResponseCache<string>({ ttlMs: 1000, maxEntries: 10, now: () => 0 })
    await assert.rejects(
      cache.get('q', async () => {
        throw new Error('database down')
      }),
      /database down/,
    )
    assert.equal(await cache.get('q', async () => 'recovered'), 'recovered')
  })

  test('should drop the oldest entries beyond maxEntries', async () => {
    const cache = createResponseCache<string>({ ttlMs: 1000, maxEntries: 2, now: () => 0 })
    const c = counter()
    await cache.get('a', c.compute('a'))
    await cache.get('b', c.compute('b'))
    await cache.get('c', c.compute('c'))
    assert.equal(c.calls(), 3)
    await cache.get('c', c.compute('c'))
    await cache.get('b', c.compute('b'))
    assert.equal(c.calls(), 3, 'b and c are still cached')
    await cache.get('a', c.compute('a'))
    assert.equal(c.calls(), 4, 'a was dropped')
  })

  test('should compute every time when the TTL is 0', async () => {
    const cache = createResponseCache<string>({ ttlMs: 0, maxEntries: 10, now: () => 0 })
    const c = counter()
    await cache.get('q', c.compute('a'))
    await cache.get('q', c.compute('a'))
    assert.equal(c.calls(), 2)
  })
})
