import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createResponseCache, type ResponseCache } from '../../../src/api/response-cache.ts'

/** The cache with text in and text out, as these tests write it. */
function texts(cache: ResponseCache) {
  return {
    get: async (key: string, compute: () => Promise<string>) =>
      (await cache.get(key, async () => Buffer.from(await compute()))).toString(),
    bytes: () => cache.bytes(),
    sweep: () => cache.sweep(),
    close: () => cache.close(),
  }
}

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

const MB = 2 ** 20

describe('createResponseCache', () => {
  test('should answer from the cache until the TTL has passed, then compute again', async (t) => {
    let time = 1000
    const cache = texts(createResponseCache({ ttlMs: 250, maxBytes: MB, now: () => time }))
    t.after(() => cache.close())
    const c = counter()
    assert.equal(await cache.get('q', c.compute('a')), 'a')
    time += 250
    assert.equal(await cache.get('q', c.compute('b')), 'a')
    assert.equal(c.calls(), 1)
    time += 1
    assert.equal(await cache.get('q', c.compute('c')), 'c')
    assert.equal(c.calls(), 2)
  })

  test('should share one computation among concurrent requests for a key', async (t) => {
    const cache = texts(createResponseCache({ ttlMs: 1000, maxBytes: MB, now: () => 0 }))
    t.after(() => cache.close())
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

  test('should keep keys apart', async (t) => {
    const cache = texts(createResponseCache({ ttlMs: 1000, maxBytes: MB, now: () => 0 }))
    t.after(() => cache.close())
    assert.equal(await cache.get('a', async () => 'A'), 'A')
    assert.equal(await cache.get('b', async () => 'B'), 'B')
    assert.equal(await cache.get('a', async () => 'other'), 'A')
  })

  test('should not keep a failure', async (t) => {
    const cache = texts(createResponseCache({ ttlMs: 1000, maxBytes: MB, now: () => 0 }))
    t.after(() => cache.close())
    await assert.rejects(
      cache.get('q', async () => {
        throw new Error('database down')
      }),
      /database down/,
    )
    assert.equal(await cache.get('q', async () => 'recovered'), 'recovered')
  })

  test('should hold no more than its byte budget, dropping the least recently used first', async (t) => {
    const cache = texts(createResponseCache({ ttlMs: 60_000, maxBytes: MB, now: () => 0 }))
    t.after(() => cache.close())
    const answer = 'x'.repeat(100_000)
    for (let i = 0; i < 1000; i++) await cache.get(`q${i}`, async () => answer)
    assert.ok(cache.bytes() <= MB, `${cache.bytes()} bytes held`)
    assert.ok(cache.bytes() > MB / 2, 'and it is used')
    const c = counter()
    await cache.get('q999', c.compute(answer))
    assert.equal(c.calls(), 0, 'the newest is still there')
    await cache.get('q0', c.compute(answer))
    assert.equal(c.calls(), 1, 'the oldest went')
  })

  test('should not keep an answer larger than the whole budget, and still give it', async (t) => {
    const cache = texts(createResponseCache({ ttlMs: 60_000, maxBytes: 1000, now: () => 0 }))
    t.after(() => cache.close())
    const big = 'y'.repeat(10_000)
    assert.equal(await cache.get('big', async () => big), big)
    assert.ok(cache.bytes() <= 1000)
  })

  test('should let expired answers go', async (t) => {
    let time = 5000
    const cache = texts(createResponseCache({ ttlMs: 100, maxBytes: MB, now: () => time }))
    t.after(() => cache.close())
    await cache.get('q', async () => 'a'.repeat(1000))
    assert.ok(cache.bytes() > 0)
    time += 101
    await cache.get('other', async () => 'b')
    // The sweep runs on a timer; a lookup of an expired key also drops it.
    await cache.get('q', async () => 'c')
    assert.ok(cache.bytes() < 1000, `${cache.bytes()} bytes after expiry`)
  })

  test('should let a sweep pass while an expired answer is being computed again', async (t) => {
    let time = 5000
    const cache = texts(createResponseCache({ ttlMs: 100, maxBytes: MB, now: () => time }))
    t.after(() => cache.close())
    await cache.get('q', async () => 'old')
    time += 101
    let release: (value: string) => void = () => {}
    const fresh = cache.get('q', () => new Promise<string>((resolve) => (release = resolve)))
    cache.sweep()
    release('new')
    assert.equal(await fresh, 'new', 'the sweep did not abort the computation under way')
  })

  test('should compute every time when the TTL is 0', async () => {
    const cache = texts(createResponseCache({ ttlMs: 0, maxBytes: MB, now: () => 0 }))
    const c = counter()
    await cache.get('q', c.compute('a'))
    await cache.get('q', c.compute('a'))
    assert.equal(c.calls(), 2)
  })
})
