/**
 * The same cache assertions against both backends: the client-side ring (REDIS_RING) and a Redis
 * Cluster (REDIS_CLUSTER, brought up by this file on test ports). First the cache on its own
 * (round trip, a node killed, a node hung, nothing reachable), then a real `rsvp-topk serve`
 * whose node is SIGKILLed under requests. Every wait is for a state, never for a guessed delay.
 */
import assert from 'node:assert/strict'
import { beforeEach, describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { cacheKeyPrefix } from '../../src/cache/event-details-cache.ts'
import { escapeGlob } from '../../src/cache/redis-node.ts'
import type { CacheRing } from '../../src/cache/ring.ts'
import type { RedisNodeConfig } from '../../src/config.ts'
import { generateStream } from '../../src/producer/generator.ts'
import { stackConfig, uniqueName } from '../helpers.ts'
import { backendForSuite, CACHE_BACKENDS, type CacheBackend, ttlsOn, valuesOn } from '../support/cache-backends.ts'
import { computeExpected, type ExpectedRank, topK } from '../support/contract-oracle.ts'
import { get, metricValue, type Reply, waitFor } from '../support/http.ts'
import { assertConverges, createIngestFixture, produce, startCommand } from '../support/ingest-harness.ts'

/** Each test writes under a namespace of its own, as a service does under its data set's. */
function namespace(): string {
  return `rsvp-topk:${uniqueName('backend')}:`
}

async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting until ${what}`)
    await sleep(50)
  }
}

function inUse(cache: CacheRing, id: string): boolean {
  return cache.members().some((member) => member.id === id && member.healthy)
}

function allInUse(cache: CacheRing): boolean {
  return cache.members().every((member) => member.healthy)
}

function testEntries(prefix: string, count: number): Array<readonly [string, string]> {
  return Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `value ${i}`] as const)
}

/** Keys of this service's data set on one node, past the cache. */
async function countKeysOn(backend: CacheBackend, node: RedisNodeConfig, prefix: string): Promise<number> {
  const redis = await backend.admin(node)
  try {
    let cursor = '0'
    let count = 0
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000)
      count += keys.length
      cursor = next
    } while (cursor !== '0')
    return count
  } finally {
    await redis.quit()
  }
}

function ranksOf(body: Reply): ExpectedRank[] {
  return body.events.map((event: Reply) => ({
    eventId: event.event_id,
    yes: event.yes_rsvps,
    attendees: event.attendees,
  }))
}

for (const [name, open] of CACHE_BACKENDS) {
  describe(`cache on the ${name}`, () => {
    const opened = backendForSuite(open)
    let backend: CacheBackend
    beforeEach(() => {
      backend = opened()
    })

    test('setMany and getMany should round-trip keys, each on the node that owns it, with a TTL; deleteMany removes them', async (t) => {
      const prefix = namespace()
      const cache = backend.create(t, prefix)
      await until('every node is in use', () => allInUse(cache))
      assert.deepEqual(
        cache
          .members()
          .map((member) => member.id)
          .sort(),
        backend.nodes.map((node) => node.id).sort(),
        'one member per node',
      )
      const entries = testEntries(prefix, 300)
      const keys = entries.map(([key]) => key)

      await cache.setMany(entries, 60)
      assert.deepEqual(await cache.getMany(keys), new Map(entries))
      for (const node of backend.nodes) {
        const owned = entries.filter(([key]) => backend.ownerOf(key) === node.id)
        assert.ok(owned.length > 50, `${node.id} should own about a third of the keys, not ${owned.length}`)
        const ownedKeys = owned.map(([key]) => key)
        assert.deepEqual(
          await valuesOn(backend, node, ownedKeys),
          owned.map(([, value]) => value),
          node.id,
        )
        for (const ttl of await ttlsOn(backend, node, ownedKeys)) assert.ok(ttl > 0 && ttl <= 60, `TTL ${ttl}`)
      }

      await cache.deleteMany(keys)
      assert.equal((await cache.getMany(keys)).size, 0)
      for (const node of backend.nodes) {
        const ownedKeys = keys.filter((key) => backend.ownerOf(key) === node.id)
        assert.ok(
          (await valuesOn(backend, node, ownedKeys)).every((value) => value === null),
          node.id,
        )
      }
    })

    test('a node SIGKILLed: every operation answers, its keys are misses; back, it holds nothing stale and the cache works again', async (t) => {
      const victim = backend.nodes[1] as RedisNodeConfig
      t.after(() => backend.start(victim))
      const prefix = namespace()
      const cache = backend.create(t, prefix)
      await until('every node is in use', () => allInUse(cache))
      const entries = testEntries(prefix, 300)
      const keys = entries.map(([key]) => key)
      const victimEntries = entries.filter(([key]) => backend.ownerOf(key) === victim.id)
      const victimKeys = victimEntries.map(([key]) => key)
      const others = entries.filter(([key]) => backend.ownerOf(key) !== victim.id)
      await cache.setMany(entries, 60)

      await backend.kill(victim)
      // Before the cache has noticed, and after: the others' keys, and only those, are found.
      assert.deepEqual(await cache.getMany(keys), new Map(others))
      await until('the killed node is out of use', () => !inUse(cache, victim.id))
      assert.ok(
        backend.nodes.filter((node) => node !== victim).every((node) => inUse(cache, node.id)),
        'the others stay in use',
      )
      assert.deepEqual(await cache.getMany(keys), new Map(others))
      // Writes and deletions while it is out resolve too (a write of its keys goes elsewhere or nowhere).
      await cache.setMany(entries, 60)
      await cache.deleteMany(victimKeys.slice(0, 5))

      await backend.start(victim)
      await until('the node is back in use', () => inUse(cache, victim.id))
      assert.equal((await cache.getMany(victimKeys)).size, 0, 'nothing it held before, nothing written meanwhile')
      await cache.setMany(entries, 60)
      assert.deepEqual(await cache.getMany(keys), new Map(entries), 'the cache works again')
      assert.deepEqual(
        await valuesOn(backend, victim, victimKeys),
        victimEntries.map(([, value]) => value),
        'its keys are on it again',
      )
      await cache.deleteMany(keys)
      assert.equal((await cache.getMany(keys)).size, 0)
    })

    test('a hung node: getMany answers before the node does; a deletion it missed does not come back, and keys not ours stay', async (t) => {
      const victim = backend.nodes[2] as RedisNodeConfig
      const prefix = namespace()
      const cache = backend.create(t, prefix)
      await until('every node is in use', () => allInUse(cache))
      const entries = testEntries(prefix, 120)
      const keys = entries.map(([key]) => key)
      const victimKeys = keys.filter((key) => backend.ownerOf(key) === victim.id)
      const others = entries.filter(([key]) => backend.ownerOf(key) !== victim.id)
      await cache.setMany(entries, 60)
      // Keys of another service, and of another data set of this one, on the same node.
      const candidates = (base: string) => Array.from({ length: 200 }, (_, i) => `${base}${i}`)
      const foreign = [
        candidates(`other-service:${uniqueName('key')}:`).find((key) => backend.ownerOf(key) === victim.id),
        candidates(`rsvp-topk:${uniqueName('other-data-set')}:event:v2:`).find(
          (key) => backend.ownerOf(key) === victim.id,
        ),
      ] as string[]
      const setter = await backend.admin(victim)
      for (const key of foreign) await setter.set(key, 'theirs', 'EX', 60)
      await setter.quit()
      t.after(async () => {
        const redis = await backend.admin(victim)
        for (const key of foreign) await redis.del(key)
        await redis.quit()
      })

      // A hung node: the connection stays open, commands get no answer for 5 s.
      const pauser = await backend.admin(victim)
      await pauser.call('CLIENT', 'PAUSE', '5000', 'ALL')
      // Not quit: QUIT would wait for the pause to end.
      pauser.disconnect()
      const started = performance.now()
      const found = await cache.getMany(keys)
      const elapsedMs = performance.now() - started
      // The limit is 300 ms a command; well before the pause ends is what counts, on a busy machine too.
      assert.ok(elapsedMs < 4000, `getMany took ${elapsedMs.toFixed(0)} ms`)
      assert.deepEqual(found, new Map(others))
      assert.ok(!inUse(cache, victim.id), 'a node that timed out is out of use at once')

      // A deletion the hung node never sees: its entries are stale from now on.
      await cache.deleteMany(victimKeys)
      await until('the node is back in use', () => inUse(cache, victim.id))
      assert.equal((await cache.getMany(victimKeys)).size, 0, 'stale entries should have been deleted')
      assert.ok((await valuesOn(backend, victim, victimKeys)).every((value) => value === null))
      assert.deepEqual(await valuesOn(backend, victim, foreign), ['theirs', 'theirs'], 'other keys are left alone')
      await cache.deleteMany(keys)
    })

    test('every operation should resolve, as misses, when no node can be reached', async (t) => {
      const changes: unknown[] = []
      const cache = backend.createUnreachable(t, namespace(), {
        onMembershipChange: (members) => changes.push(members),
      })
      await cache.setMany([['a', '1']], 60)
      assert.deepEqual(cache.members(), [
        { id: '127.0.0.1:1', healthy: false },
        { id: '127.0.0.1:2', healthy: false },
      ])
      assert.equal((await cache.getMany([])).size, 0)
      assert.equal((await cache.getMany(['a', 'b'])).size, 0)
      await cache.deleteMany(['a'])
      assert.deepEqual(changes, [])
      await cache.close()
      await cache.close()
      assert.equal((await cache.getMany(['a'])).size, 0)
    })

    test('rsvp-topk serve: a node SIGKILLed under requests, answers stay 200 and exact; back, the cache works again', async (t) => {
      await serviceThroughNodeLoss(t, backend)
    })
  })
}

async function serviceThroughNodeLoss(t: TestContext, backend: CacheBackend): Promise<void> {
  const victim = backend.nodes[0] as RedisNodeConfig
  t.after(() => backend.start(victim))
  const fixture = await createIngestFixture(t, 1)
  const messages = [...generateStream({ count: 3000, seed: 1414, events: 120, groups: 30, invalidShare: 0 })]
  // No answer reuse and no in-process tier: every answer is computed, its details read through Redis.
  const service = await startCommand(fixture, 'serve', {
    ...backend.env,
    TOPK_CACHE_MS: '0',
    DETAILS_LOCAL_CACHE_MB: '0',
  })
  await produce(fixture, messages)
  await assertConverges(fixture, messages)
  await service.ready()
  const expected = computeExpected(messages.map((m) => m.value))
  assert.equal(expected.ambiguous.events.size + expected.ambiguous.groups.size, 0, 'the stream has one answer')
  const prefix = cacheKeyPrefix(stackConfig({ DATABASE_URL: fixture.databaseUrl }).postgres.dataSet)
  const metrics = async () => (await get(service.base, '/metrics')).text
  const member = (node: RedisNodeConfig) => `node="${node.id}"`
  const hits = async () => metricValue(await metrics(), 'rsvp_topk_cache_lookups_total', 'result="hit"') ?? 0
  const assertExact = async () => {
    const { status, body, text } = await get(service.base, '/api/v1/events/topk?k=100')
    assert.equal(status, 200, text)
    assert.deepEqual(ranksOf(body), topK(expected, 100))
    for (const event of body.events) assert.equal(event.name, expected.events.get(event.event_id)?.name ?? null)
  }

  await waitFor('every node to be in use', async () => {
    const text = await metrics()
    return backend.nodes.every((node) => metricValue(text, 'rsvp_topk_cache_ring_member', member(node)) === 1)
      ? true
      : undefined
  })
  await assertExact()
  // The details are cached now: the same answer again is read from the cache.
  await waitFor('cache hits', async () => {
    const before = await hits()
    await assertExact()
    return (await hits()) > before ? true : undefined
  })

  await backend.kill(victim)
  // Right answers even before the service notices the node is gone.
  await assertExact()
  await waitFor('the node to be out of use', async () =>
    metricValue(await metrics(), 'rsvp_topk_cache_ring_member', member(victim)) === 0 ? true : undefined,
  )
  for (let i = 0; i < 3; i++) await assertExact()
  const text = await metrics()
  assert.equal(metricValue(text, 'rsvp_topk_dependency_up', 'dependency="redis"'), 1, 'the other nodes serve')
  assert.equal(
    backend.nodes.filter((node) => metricValue(text, 'rsvp_topk_cache_ring_member', member(node)) === 1).length,
    backend.nodes.length - 1,
    'one sample per node, the killed one 0',
  )

  await backend.start(victim)
  await waitFor('the node to be in use again', async () =>
    metricValue(await metrics(), 'rsvp_topk_cache_ring_member', member(victim)) === 1 ? true : undefined,
  )
  // The cache works again: answers fill the node that came back (empty: it lost everything) and
  // are read from it.
  await waitFor('details cached on the node that came back', async () => {
    await assertExact()
    return (await countKeysOn(backend, victim, prefix)) > 0 ? true : undefined
  })
  const before = await hits()
  await assertExact()
  assert.ok((await hits()) > before, 'answers read details from the cache again')
  service.child.kill('SIGTERM')
  assert.equal((await service.exited).code, 0, service.output())
}
