/**
 * The Redis adapter: the only module that imports `ioredis`. One connection per ring node, with the
 * node's ACL user and password, or one Cluster client for a Redis Cluster. Commands fail fast while
 * a node is down (no offline queue), so the cache can fall back to PostgreSQL instead of waiting.
 *
 * The service's Redis user may run only the commands the ring uses (PING, MGET, SET, DEL, UNLINK,
 * SCAN) on keys under `rsvp-topk:` (stack/redis.sh, README): so no INFO ready check and no CLIENT
 * SETINFO at connect.
 */
import { Cluster, Redis, ReplyError } from 'ioredis'
import type { RedisNodeConfig } from '../config.ts'

export type RedisConnection = Redis
export type ClusterConnection = Cluster

export function createRedisConnection(
  node: RedisNodeConfig,
  options: { lazyConnect?: boolean; connectTimeoutMs?: number; readyCheck?: boolean; commandTimeoutMs?: number } = {},
): RedisConnection {
  return new Redis({
    host: node.host,
    port: node.port,
    username: node.username,
    password: node.password,
    lazyConnect: options.lazyConnect ?? false,
    enableReadyCheck: options.readyCheck ?? false,
    disableClientInfo: true,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Unset means no limit; with one, a command to a node that hangs fails instead of waiting.
    commandTimeout: options.commandTimeoutMs,
    // Keep trying to reconnect in the background, at most every 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  })
}

/** Glob-escapes text for SCAN MATCH: `*`, `?`, `[`, `]` and `\\` stand for themselves. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`)
}

/**
 * Deletes every key that starts with `prefix` (SCAN, then UNLINK: the memory is freed in the
 * background) and nothing else; returns how many went. On a Redis Cluster node (`oneKeyPerCommand`)
 * each key gets an UNLINK of its own in one pipeline: a node refuses a command whose keys are in
 * different slots, even slots it owns.
 */
export async function deleteByPrefix(
  redis: RedisConnection,
  prefix: string,
  options: { oneKeyPerCommand?: boolean } = {},
): Promise<number> {
  const pattern = `${escapeGlob(prefix)}*`
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0 && options.oneKeyPerCommand) {
      const pipeline = redis.pipeline()
      for (const key of keys) pipeline.unlink(key)
      for (const [err, count] of (await pipeline.exec()) ?? []) {
        if (err) throw err
        removed += count as number
      }
    } else if (keys.length > 0) {
      removed += await redis.unlink(...keys)
    }
    cursor = next
  } while (cursor !== '0')
  return removed
}

/**
 * A client for a Redis Cluster, from its seed nodes (any of its nodes: the client reads the slot
 * map, CLUSTER SLOTS, from the first that answers, and every 5 s after). One user and password
 * for every node. For a cache, failing beats waiting: no offline queue, no retry of a command whose
 * master has gone or whose cluster is down (it is a miss), a limit on every command; connections
 * to a node that went away are tried again in the background, at most every 2 s, like the ring's.
 */
export function createClusterConnection(
  seeds: readonly RedisNodeConfig[],
  options: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
): ClusterConnection {
  const first = seeds[0]
  const retry = (attempt: number) => Math.min(attempt * 100, 2000)
  return new Cluster(
    seeds.map(({ host, port }) => ({ host, port })),
    {
      enableOfflineQueue: false,
      // CLUSTER INFO: the client is ready once the cluster says cluster_state:ok.
      enableReadyCheck: true,
      scaleReads: 'master',
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      clusterRetryStrategy: retry,
      clusterNodeRetryStrategy: retry,
      redisOptions: {
        username: first?.username,
        password: first?.password,
        // The service's user may not run INFO or CLIENT SETINFO (stack/redis-cluster.sh).
        enableReadyCheck: false,
        disableClientInfo: true,
        connectTimeout: options.connectTimeoutMs ?? 2000,
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs,
      },
    },
  )
}

/** An error reply from Redis itself (the node answered), as opposed to a lost connection or a timeout. */
export function isReplyError(error: unknown): boolean {
  return error instanceof ReplyError
}

/** A connection that has authenticated and answered its ready check. */
export async function connectRedis(node: RedisNodeConfig): Promise<RedisConnection> {
  const redis = createRedisConnection(node, { lazyConnect: true })
  try {
    await redis.connect()
  } catch (error) {
    redis.disconnect()
    throw error
  }
  return redis
}
