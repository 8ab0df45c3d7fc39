/**
 * The Redis adapter: the only module that imports `ioredis`. One connection per ring node, with the
 * node's ACL user and password. Commands fail fast while a node is down (no offline queue), so the
 * ring can fall back to PostgreSQL instead of waiting.
 *
 * The service's Redis user may run only the commands the ring uses (PING, MGET, SET, DEL, UNLINK,
 * SCAN) on keys under `rsvp-topk:` (stack/redis.sh, README): so no INFO ready check and no CLIENT
 * SETINFO at connect.
 */
import { Redis, ReplyError } from 'ioredis'
import type { RedisNodeConfig } from '../config.ts'

export type RedisConnection = Redis

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
 * background) and nothing else; returns how many went.
 */
export async function deleteByPrefix(redis: RedisConnection, prefix: string): Promise<number> {
  const pattern = `${escapeGlob(prefix)}*`
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0) removed += await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
  return removed
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
