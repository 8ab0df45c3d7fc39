/**
 * Which cache the configuration names: the client-side ring (REDIS_RING) or a Redis Cluster
 * (REDIS_CLUSTER). Both keep the same interface, so what uses the cache does not know which.
 */
import type { Config } from '../config.ts'
import { createClusterCache } from './cluster.ts'
import { type CacheRing, type CacheRingOptions, createCacheRing } from './ring.ts'

/** The ring over `redis.ring`, or the cluster cache when `redis.cluster` names seed nodes. */
export function createRedisCache(
  redis: Pick<Config['redis'], 'ring' | 'cluster'>,
  options: CacheRingOptions,
): CacheRing {
  return redis.cluster.length > 0 ? createClusterCache(redis.cluster, options) : createCacheRing(redis.ring, options)
}
