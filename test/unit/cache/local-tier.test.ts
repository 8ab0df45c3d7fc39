import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createLocalTier } from '../../../src/cache/local-tier.ts'

const entry = (name: string) => ({ event_id: 'E1', name })

describe('createLocalTier', () => {
  test('should hold what was set and give it back, decoded', () => {
    const tier = createLocalTier({ maxBytes: 1 << 20, ttlMs: 10_000 })
    tier.set('event:E1', entry('a'), 30, tier.epoch())
    assert.deepEqual(tier.get('event:E1'), entry('a'))
    assert.equal(tier.get('event:E2'), undefined)
  })

  test('should hand out entries that no request can change for the others', () => {
    const tier = createLocalTier({ maxBytes: 1 << 20, ttlMs: 10_000 })
    tier.set('group:7', { id: 7, topics: [{ urlkey: 'a' }] }, 40, tier.epoch())
    const held = tier.get('group:7') as { id: number; topics: Array<{ urlkey: string }> }
    assert.throws(() => {
      held.id = 8
    }, TypeError)
    assert.throws(() => held.topics.push({ urlkey: 'b' }), TypeError)
    assert.throws(() => {
      ;(held.topics[0] as { urlkey: string }).urlkey = 'b'
    }, TypeError)
    assert.deepEqual(tier.get('group:7'), { id: 7, topics: [{ urlkey: 'a' }] })
  })

  test('should drop the entries a notice names, and every entry on "all"', () => {
    const tier = createLocalTier({ maxBytes: 1 << 20, ttlMs: 10_000 })
    for (const id of ['E1', 'E2', 'E3']) tier.set(`event:${id}`, entry(id), 30, tier.epoch())
    tier.forget(['event:E2'])
    assert.deepEqual(tier.get('event:E1'), entry('E1'))
    assert.equal(tier.get('event:E2'), undefined)
    tier.forget('all')
    assert.equal(tier.get('event:E1'), undefined)
    assert.equal(tier.size(), 0)
  })

  test('should not store a value read before a forget that came while it was being read', () => {
    const tier = createLocalTier({ maxBytes: 1 << 20, ttlMs: 10_000 })
    const readStarted = tier.epoch()
    // The notice of a batch that changed E1 (or any other entry) arrives while the read is out…
    tier.forget(['event:E9'])
    // …so what the read brings back may predate that batch: it is not kept.
    tier.set('event:E1', entry('old'), 30, readStarted)
    assert.equal(tier.get('event:E1'), undefined)
    // A read that starts after the notice is kept.
    tier.set('event:E1', entry('new'), 30, tier.epoch())
    assert.deepEqual(tier.get('event:E1'), entry('new'))
  })

  test('should stop using an entry after ttlMs', () => {
    let now = 1000
    const tier = createLocalTier({ maxBytes: 1 << 20, ttlMs: 10_000, now: () => now })
    tier.set('event:E1', entry('a'), 30, tier.epoch())
    now += 9999
    assert.deepEqual(tier.get('event:E1'), entry('a'))
    now += 2
    assert.equal(tier.get('event:E1'), undefined)
  })

  test('should hold at most maxBytes of entries, dropping the least recently used first', () => {
    // Each entry counts its JSON bytes, twice its key's length and 64: 1000 + 2·8 + 64 = 1080.
    const tier = createLocalTier({ maxBytes: 3 * 1080, ttlMs: 10_000 })
    for (const id of ['E1', 'E2', 'E3']) tier.set(`event:${id}`, entry(id), 1000, tier.epoch())
    assert.ok(tier.get('event:E1'), 'E1 used: E2 is now the least recently used')
    tier.set('event:E4', entry('E4'), 1000, tier.epoch())
    assert.equal(tier.size(), 3)
    assert.equal(tier.get('event:E2'), undefined)
    for (const id of ['E1', 'E3', 'E4']) assert.ok(tier.get(`event:${id}`), id)
  })

  test('should hold nothing with maxBytes 0', () => {
    const tier = createLocalTier({ maxBytes: 0, ttlMs: 10_000 })
    tier.set('event:E1', entry('a'), 30, tier.epoch())
    assert.equal(tier.get('event:E1'), undefined)
    assert.equal(tier.size(), 0)
  })
})
