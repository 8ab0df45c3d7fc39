import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisConnection } from '../../src/cache/redis-node.ts'
import { ownerOf } from '../../src/cache/rendezvous.ts'
import { type CacheRing, type CacheRingOptions, createCacheRing } from '../../src/cache/ring.ts'
import type { RedisNodeConfig } from '../../src/config.ts'
import { connectRedisAdmin, silentLogger, stackConfig, uniqueName } from '../helpers.ts'

const projectRoot = resolve(import.meta.dirname, '../..')
// Rings that must answer get a limit no busy machine reaches: a command that times out is a miss
// by design, and a test of the healthy path must not turn a slow moment into one. The hung-node
// test gets a short one, and a pause far longer than it.
const commandTimeoutMs = 10_000
const hungCommandTimeoutMs = 300
const HANG_MS = 8000

/** Each test writes under a namespace of its own, as a service does under its data set's. */
function namespace(): string {
  return `rsvp-topk:${uniqueName('ring')}:`
}

function startRing(
  t: TestContext,
  keyPrefix: string,
  nodes = stackConfig().redis.ring,
  options: Partial<CacheRingOptions> = {},
) {
  const ring = createCacheRing(nodes, {
    logger: silentLogger,
    healthIntervalMs: 200,
    commandTimeoutMs,
    keyPrefix,
    ...options,
  })
  t.after(() => ring.close())
  return ring
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting until ${what}`)
    await sleep(50)
  }
}

function isHealthy(ring: CacheRing, id: string): boolean {
  return ring.members().some((member) => member.id === id && member.healthy)
}

/** Runs `work` on a connection of its own to one node, past the ring, as the admin user. */
async function onNode<T>(node: RedisNodeConfig, work: (redis: RedisConnection) => Promise<T>): Promise<T> {
  const redis = await connectRedisAdmin(node)
  try {
    return await work(redis)
  } finally {
    await redis.quit()
  }
}

async function shutDown(node: RedisNodeConfig): Promise<void> {
  const redis = await connectRedisAdmin(node)
  redis.on('error', () => {})
  // The node closes the connection instead of answering.
  await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined)
  redis.disconnect()
}

/** Starts whichever ring node is down; a no-op when all are up. */
function startMissingNodes(): void {
  execFileSync('./dev.sh', ['up', 'redis'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] })
}

function testEntries(prefix: string, count: number): Array<readonly [string, string]> {
  return Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `value ${i}`] as const)
}

describe('cache ring', () => {
  test('setMany and getMany should round-trip keys, each on the node ownerOf names, with a TTL', async (t) => {
    const nodes = stackConfig().redis.ring
    const ids = nodes.map((node) => node.id)
    const prefix = namespace()
    const ring = startRing(t, prefix)
    await waitFor('every node is in the ring', () => ring.members().every((member) => member.healthy))
    const entries = testEntries(prefix, 300)
    const keys = entries.map(([key]) => key)

    await ring.setMany(entries, 60)
    assert.deepEqual(await ring.getMany(keys), new Map(entries))
    for (const node of nodes) {
      const [values, ttls] = await onNode(node, async (redis) => {
        const ttlPipeline = redis.pipeline()
        for (const key of keys) ttlPipeline.ttl(key)
        return [await redis.mget(keys), (await ttlPipeline.exec())?.map(([, ttl]) => ttl as number)]
      })
      for (const [i, [key, value]] of entries.entries()) {
        const owned = ownerOf(key, ids) === node.id
        assert.equal(values[i], owned ? value : null, `${key} on ${node.id}`)
        if (owned) assert.ok((ttls?.[i] ?? 0) > 0 && (ttls?.[i] ?? 0) <= 60, `TTL of ${key}: ${ttls?.[i]}`)
      }
    }

    await ring.deleteMany(keys)
    assert.equal((await ring.getMany(keys)).size, 0)
    for (const node of nodes) assert.equal(await onNode(node, (redis) => redis.exists(keys)), 0)
  })

  test('the ring should serve from the other nodes while one is down, and take it back empty', async (t) => {
    const nodes = stackConfig().redis.ring
    const victim = nodes[2] as RedisNodeConfig
    const ids = nodes.map((node) => node.id)
    const otherIds = ids.filter((id) => id !== victim.id)
    t.after(startMissingNodes)
    const prefix = namespace()
    const ring = startRing(t, prefix)
    await waitFor('every node is in the ring', () => ring.members().every((member) => member.healthy))
    const entries = testEntries(prefix, 300)
    const keys = entries.map(([key]) => key)
    const victimEntries = entries.filter(([key]) => ownerOf(key, ids) === victim.id)
    const victimKeys = victimEntries.map(([key]) => key)
    const otherKeys = keys.filter((key) => ownerOf(key, ids) !== victim.id)
    assert.ok(victimKeys.length > 50, 'the victim should own a third of the keys')
    await ring.setMany(entries, 60)

    await shutDown(victim)
    await waitFor('the stopped node is out of the ring', () => !isHealthy(ring, victim.id))
    assert.ok(otherIds.every((id) => isHealthy(ring, id)))
    // The others' keys have not moved: they are still found where they were written.
    assert.deepEqual([...(await ring.getMany(keys)).keys()].sort(), otherKeys.sort())
    // The stopped node's keys now go to the other two.
    await ring.setMany(victimEntries, 60)
    assert.deepEqual(await ring.getMany(keys), new Map(entries))
    for (const node of nodes.filter((n) => n !== victim)) {
      const values = await onNode(node, (redis) => redis.mget(keys))
      for (const [i, [key, value]] of entries.entries()) {
        const expected = ownerOf(key, otherIds) === node.id ? value : null
        assert.equal(values[i], expected, `${key} on ${node.id}`)
      }
    }

    startMissingNodes()
    await waitFor('the restarted node is back in the ring', () => isHealthy(ring, victim.id))
    assert.equal(await onNode(victim, (redis) => redis.exists(keys)), 0, 'the node should join without our keys')
    // Its keys are its own again: the copies on the other nodes are no longer read.
    assert.equal((await ring.getMany(victimKeys)).size, 0)
    await ring.setMany(victimEntries, 60)
    assert.deepEqual(
      await onNode(victim, (redis) => redis.mget(victimKeys)),
      victimEntries.map(([, value]) => value),
    )
    assert.deepEqual(await ring.getMany(keys), new Map(entries))

    // Deleting reaches every node, copies left on the others included.
    await ring.deleteMany(keys)
    for (const node of nodes) assert.equal(await onNode(node, (redis) => redis.exists(keys)), 0, node.id)
  })

  test('getMany should answer within about commandTimeout when a node hangs, and the node should come back without our stale keys, other keys untouched', async (t) => {
    const nodes = stackConfig().redis.ring
    const victim = nodes[1] as RedisNodeConfig
    const ids = nodes.map((node) => node.id)
    const prefix = namespace()
    const ring = startRing(t, prefix, nodes, { commandTimeoutMs: hungCommandTimeoutMs })
    await waitFor('every node is in the ring', () => ring.members().every((member) => member.healthy))
    const entries = testEntries(prefix, 60)
    const keys = entries.map(([key]) => key)
    const victimKeys = keys.filter((key) => ownerOf(key, ids) === victim.id)
    const otherKeys = keys.filter((key) => ownerOf(key, ids) !== victim.id)
    await ring.setMany(entries, 60)
    // Keys of another service, and of another data set of this one, on the same node.
    const foreign = [`other-service:${uniqueName('key')}`, `rsvp-topk:${uniqueName('other-data-set')}:event:v2:x`]
    await onNode(victim, (redis) => Promise.all(foreign.map((key) => redis.set(key, 'theirs', 'EX', 60))))
    t.after(() => onNode(victim, (redis) => redis.del(foreign)))

    // A hung node: the connection stays open, the commands get no answer for HANG_MS.
    const pauser = await connectRedisAdmin(victim)
    await pauser.call('CLIENT', 'PAUSE', String(HANG_MS), 'ALL')
    // Not quit: QUIT would wait for the pause to end.
    pauser.disconnect()
    assert.ok(isHealthy(ring, victim.id), 'the ring cannot have noticed yet')
    const started = performance.now()
    const found = await ring.getMany(keys)
    const elapsedMs = performance.now() - started
    // Answered by the command limit, long before the node could have answered.
    assert.ok(elapsedMs < HANG_MS / 2, `getMany took ${elapsedMs.toFixed(0)} ms`)
    assert.deepEqual([...found.keys()].sort(), otherKeys.sort())
    assert.ok(!isHealthy(ring, victim.id), 'the failing node should be out of the ring at once')

    // A deletion the hung node never sees: its entries are stale from now on.
    await ring.deleteMany(victimKeys)
    await waitFor('the node is back in the ring', () => isHealthy(ring, victim.id))
    assert.equal((await ring.getMany(victimKeys)).size, 0, 'stale entries should have been deleted')
    assert.equal(await onNode(victim, (redis) => redis.exists(victimKeys)), 0)
    assert.equal(await onNode(victim, (redis) => redis.exists(foreign)), foreign.length, 'other keys are left alone')
    await ring.deleteMany(keys)
  })

  test('every operation should resolve, as misses, when no node can be reached', async (t) => {
    const unreachable = [1, 2].map((port) => ({
      host: '127.0.0.1',
      port,
      username: undefined,
      password: undefined,
      id: `127.0.0.1:${port}`,
    }))
    const changes: unknown[] = []
    const ring = startRing(t, namespace(), unreachable, { onMembershipChange: (members) => changes.push(members) })
    await sleep(300)
    assert.deepEqual(ring.members(), [
      { id: '127.0.0.1:1', healthy: false },
      { id: '127.0.0.1:2', healthy: false },
    ])
    assert.equal((await ring.getMany([])).size, 0)
    assert.equal((await ring.getMany(['a', 'b'])).size, 0)
    await ring.setMany([['a', '1']], 60)
    await ring.deleteMany(['a'])
    assert.deepEqual(changes, [])
    await ring.close()
    await ring.close()
    assert.equal((await ring.getMany(['a'])).size, 0)
  })
})
