/**
 * The two places event details can be cached, behind one test interface, so the same assertions
 * run against each: the client-side ring of the local stack (REDIS_RING, its three nodes) and a
 * Redis Cluster of the test's own (REDIS_CLUSTER, three masters; support/redis-cluster.ts).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClusterCache } from '../../src/cache/cluster.ts'
import type { RedisConnection } from '../../src/cache/redis-node.ts'
import { ownerOf } from '../../src/cache/rendezvous.ts'
import { type CacheRing, type CacheRingOptions, createCacheRing } from '../../src/cache/ring.ts'
import { SLOT_COUNT, slotOf } from '../../src/cache/slots.ts'
import type { RedisNodeConfig } from '../../src/config.ts'
import { connectRedisAdmin, type Scope, silentLogger, stackConfig } from '../helpers.ts'
import { startTestCluster } from './redis-cluster.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export type CacheBackendName = 'ring' | 'cluster'

export interface CacheBackend {
  readonly name: CacheBackendName
  /** where keys live: the ring's nodes, or the cluster's masters (with the service's user) */
  readonly nodes: readonly RedisNodeConfig[]
  /** settings for a service process on this backend (REDIS_RING or REDIS_CLUSTER) */
  readonly env: Readonly<Record<string, string>>
  /** the cache under test, as the service builds it, closed when `scope` ends */
  create(scope: Scope, keyPrefix: string, options?: Partial<CacheRingOptions>): CacheRing
  /** the same cache on nodes nobody listens on */
  createUnreachable(scope: Scope, keyPrefix: string, options?: Partial<CacheRingOptions>): CacheRing
  /** the id of the node that holds `key` while every node is in */
  ownerOf(key: string): string
  /** a connection to one node as the admin user, past the cache */
  admin(node: RedisNodeConfig): Promise<RedisConnection>
  /** SIGKILL the node: no goodbye to its clients */
  kill(node: RedisNodeConfig): Promise<void>
  /** starts the node again, once the stack says it is ready; a no-op when it runs */
  start(node: RedisNodeConfig): Promise<void>
}

const unreachable: RedisNodeConfig[] = [1, 2].map((port) => ({
  host: '127.0.0.1',
  port,
  username: undefined,
  password: undefined,
  id: `127.0.0.1:${port}`,
}))

function cacheOptions(keyPrefix: string, options: Partial<CacheRingOptions>): CacheRingOptions {
  return { logger: silentLogger, healthIntervalMs: 200, commandTimeoutMs: 300, keyPrefix, ...options }
}

/** The local stack's ring (`./dev.sh up redis` starts a node that is down). */
export function ringBackend(): CacheBackend {
  const config = stackConfig()
  const nodes = config.redis.ring
  const ids = nodes.map((node) => node.id)
  const pidFile = (node: RedisNodeConfig) =>
    join(process.env.RSVP_TOPK_LOCAL_DIR ?? join(ROOT, '.local'), 'run', `redis-${node.port}.pid`)
  return {
    name: 'ring',
    nodes,
    env: { REDIS_CLUSTER: '', REDIS_CLUSTER_FILE: '', REDIS_RING: process.env.REDIS_RING ?? '' },
    create(scope, keyPrefix, options = {}) {
      const ring = createCacheRing(nodes, cacheOptions(keyPrefix, options))
      scope.after(() => ring.close())
      return ring
    },
    createUnreachable(scope, keyPrefix, options = {}) {
      const ring = createCacheRing(unreachable, cacheOptions(keyPrefix, options))
      scope.after(() => ring.close())
      return ring
    },
    ownerOf: (key) => ownerOf(key, ids) as string,
    admin: connectRedisAdmin,
    async kill(node) {
      const pid = Number(readFileSync(pidFile(node), 'utf8').trim())
      process.kill(pid, 'SIGKILL')
      while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50))
    },
    async start() {
      await run('./dev.sh', ['up', 'redis'], { cwd: ROOT })
    },
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A Redis Cluster of the test's own, up until `scope` ends. */
export async function clusterBackend(scope: Scope): Promise<CacheBackend> {
  const cluster = await startTestCluster(scope)
  // Who owns which slot, as the cluster itself says (not as the code under test computes it).
  const owners = new Array<string>(SLOT_COUNT)
  const admin = await cluster.admin(cluster.masters[0] as RedisNodeConfig)
  try {
    for (const [from, to, [host, port]] of (await admin.call('CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number]]
    >) {
      owners.fill(`${host}:${port}`, from, to + 1)
    }
  } finally {
    await admin.quit()
  }
  return {
    name: 'cluster',
    nodes: cluster.masters,
    env: cluster.env,
    create(scope, keyPrefix, options = {}) {
      const cache = createClusterCache(cluster.masters, cacheOptions(keyPrefix, options))
      scope.after(() => cache.close())
      return cache
    },
    createUnreachable(scope, keyPrefix, options = {}) {
      const cache = createClusterCache(unreachable, cacheOptions(keyPrefix, options))
      scope.after(() => cache.close())
      return cache
    },
    ownerOf: (key) => owners[slotOf(key)] as string,
    admin: cluster.admin,
    kill: cluster.kill,
    start: cluster.start,
  }
}

/** Opens each backend for the tests of a file: the ring at once, the cluster when asked. */
export const CACHE_BACKENDS: ReadonlyArray<readonly [CacheBackendName, (scope: Scope) => Promise<CacheBackend>]> = [
  ['ring', async () => ringBackend()],
  ['cluster', clusterBackend],
]

/**
 * For the describe it is called in: opens the backend before the first test and closes it after
 * the last, failed or not. The hooks are registered at the describe's level: an after() called
 * from inside a hook would run at that hook's end. Returns the open backend, once it is.
 */
export function backendForSuite(open: (scope: Scope) => Promise<CacheBackend>): () => CacheBackend {
  let backend: CacheBackend | undefined
  const cleanups: Array<() => unknown> = []
  before(async () => {
    backend = await open({ after: (fn) => cleanups.push(fn) })
  })
  after(async () => {
    for (const cleanup of cleanups) await cleanup()
  })
  return () => {
    if (backend === undefined) throw new Error('the cache backend is not open (its before hook failed)')
    return backend
  }
}

/**
 * Values of `keys` on one node, past the cache: one GET each, as a cluster node refuses a command
 * whose keys are in different slots. The keys must be the node's own (a cluster node answers
 * MOVED for the others).
 */
export async function valuesOn(backend: CacheBackend, node: RedisNodeConfig, keys: readonly string[]) {
  const redis = await backend.admin(node)
  try {
    const pipeline = redis.pipeline()
    for (const key of keys) pipeline.get(key)
    return ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err) throw err
      return value as string | null
    })
  } finally {
    await redis.quit()
  }
}

/** TTLs of `keys` (the node's own) on one node. */
export async function ttlsOn(backend: CacheBackend, node: RedisNodeConfig, keys: readonly string[]) {
  const redis = await backend.admin(node)
  try {
    const pipeline = redis.pipeline()
    for (const key of keys) pipeline.ttl(key)
    return ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err) throw err
      return value as number
    })
  } finally {
    await redis.quit()
  }
}
