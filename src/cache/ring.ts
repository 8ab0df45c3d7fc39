/**
 * The cache ring: one connection per Redis node, each key on the node that rendezvous hashing
 * picks among the nodes that are healthy right now. It is only a cache: a node that is down, slow
 * or failing turns into misses, never into an error for the caller.
 *
 * Staleness: a node out of the ring misses the deletions meant for it, so this service's keys on it
 * (those under `keyPrefix`) are deleted before it comes back; other keys on the node, another
 * service's or another data set's, are left alone. Deletions go to every node in the ring, not only to the owner: while a node was out
 * its keys were cached on the others, and those copies must not be served, stale, the next time
 * it leaves.
 */
import type { RedisNodeConfig } from '../config.ts'
import type { Logger } from '../observability/logger.ts'
import { createRedisConnection, deleteByPrefix, isReplyError, type RedisConnection } from './redis-node.ts'
import { groupByOwner } from './rendezvous.ts'

export interface CacheRingMember {
  readonly id: string
  readonly healthy: boolean
}

export interface CacheRing {
  /** Values of the keys found; a miss, a node that is down or a failing command is just absent. One MGET per node. */
  getMany(keys: readonly string[]): Promise<Map<string, string>>
  /** SET key value EX ttl for each entry, one pipeline per node; failures are logged at debug and ignored. */
  setMany(entries: ReadonlyArray<readonly [string, string]>, ttlSeconds: number): Promise<void>
  /** DEL the keys on every node in the ring (one command per node); resolves even when a node is down. */
  deleteMany(keys: readonly string[]): Promise<void>
  /** Node ids and whether each is currently in the ring. */
  members(): ReadonlyArray<CacheRingMember>
  close(): Promise<void>
}

export interface CacheRingOptions {
  readonly logger: Logger
  /** the prefix of every key this service writes: what is deleted from a node that rejoins */
  readonly keyPrefix: string
  /** how often each node is PINGed (default 1000 ms) */
  readonly healthIntervalMs?: number
  /** limit on every command, so a hung node cannot stall a request (default 500 ms) */
  readonly commandTimeoutMs?: number
  readonly onMembershipChange?: (members: ReadonlyArray<CacheRingMember>) => void
}

interface RingNode {
  readonly id: string
  readonly connection: RedisConnection
  /** in the ring: owners are computed over these nodes only */
  healthy: boolean
  /** may hold entries that a deletion did not reach: cleared before it joins */
  stale: boolean
  /** a health check of this node is under way */
  checking: boolean
}

export function createCacheRing(nodes: readonly RedisNodeConfig[], options: CacheRingOptions): CacheRing {
  const log = options.logger.child({ component: 'cache-ring' })
  const commandTimeoutMs = options.commandTimeoutMs ?? 500
  const ring: RingNode[] = nodes.map((config) => ({
    id: config.id,
    connection: createRedisConnection(config, { commandTimeoutMs }),
    healthy: false,
    stale: false,
    checking: false,
  }))
  const byId = new Map(ring.map((node) => [node.id, node]))
  let closing: Promise<void> | undefined

  function members(): CacheRingMember[] {
    return ring.map(({ id, healthy }) => ({ id, healthy }))
  }

  function membershipChanged(): void {
    try {
      options.onMembershipChange?.(members())
    } catch (err) {
      log.warn({ err }, 'onMembershipChange threw')
    }
  }

  function leave(node: RingNode, err: unknown): void {
    if (closing !== undefined || !node.healthy) return
    node.healthy = false
    node.stale = true
    log.warn({ node: node.id, err }, 'cache node left the ring')
    membershipChanged()
  }

  /** PINGs the node; one that answers and is out of the ring is cleared if need be, then joins. */
  async function check(node: RingNode): Promise<void> {
    if (node.checking || closing !== undefined) return
    node.checking = true
    try {
      if (node.connection.status !== 'ready') throw new Error(`connection is ${node.connection.status}`)
      await node.connection.ping()
      if (node.healthy) return
      const cleared = node.stale ? await deleteByPrefix(node.connection, options.keyPrefix) : undefined
      if (closing !== undefined) return
      node.stale = false
      node.healthy = true
      log.info({ node: node.id, cleared }, 'cache node joined the ring')
      membershipChanged()
    } catch (err) {
      leave(node, err)
    } finally {
      node.checking = false
    }
  }

  /** Runs one command on a node; a failure is logged and is undefined, and a lost node leaves the ring. */
  async function attempt<T>(node: RingNode, what: string, command: (redis: RedisConnection) => Promise<T>) {
    try {
      return await command(node.connection)
    } catch (err) {
      // An error reply means the node is there and answering: no reason to take it out.
      if (isReplyError(err)) log.debug({ node: node.id, err }, `${what} failed`)
      else leave(node, err)
      return undefined
    }
  }

  function byOwner(keys: Iterable<string>): Array<[RingNode, string[]]> {
    const healthy = ring.filter((node) => node.healthy).map((node) => node.id)
    return [...groupByOwner(keys, healthy)].map(([id, owned]) => [byId.get(id) as RingNode, owned])
  }

  for (const node of ring) {
    node.connection.on('error', (err: Error) => log.debug({ node: node.id, err }, 'cache node connection error'))
    node.connection.on('close', () => leave(node, new Error('connection closed')))
    // Joins as soon as it can, at start and after a reconnect, rather than at the next tick.
    node.connection.on('ready', () => void check(node))
  }
  const timer = setInterval(() => {
    for (const node of ring) void check(node)
  }, options.healthIntervalMs ?? 1000)
  timer.unref()

  return {
    async getMany(keys) {
      const found = new Map<string, string>()
      if (keys.length === 0) return found
      const groups = byOwner(new Set(keys))
      await Promise.all(
        groups.map(async ([node, owned]) => {
          const values = await attempt(node, 'MGET', (redis) => redis.mget(owned))
          for (const [i, value] of (values ?? []).entries()) {
            if (value !== null) found.set(owned[i] as string, value)
          }
        }),
      )
      return found
    },

    async setMany(entries, ttlSeconds) {
      const values = new Map(entries)
      await Promise.all(
        byOwner(values.keys()).map(([node, owned]) =>
          attempt(node, 'SET', async (redis) => {
            const pipeline = redis.pipeline()
            for (const key of owned) pipeline.set(key, values.get(key) as string, 'EX', ttlSeconds)
            const failed = (await pipeline.exec())?.find(([err]) => err !== null)
            if (failed) throw failed[0]
          }),
        ),
      )
    },

    async deleteMany(keys) {
      if (keys.length === 0) return
      const unique = [...new Set(keys)]
      for (const node of ring) if (!node.healthy) node.stale = true
      const inRing = ring.filter((node) => node.healthy)
      await Promise.all(inRing.map((node) => attempt(node, 'DEL', (redis) => redis.del(unique))))
    },

    members,

    close() {
      closing ??= (async () => {
        clearInterval(timer)
        for (const node of ring) node.healthy = false
        await Promise.all(
          ring.map(async ({ connection }) => {
            try {
              await connection.quit()
            } catch {
              connection.disconnect()
            }
          }),
        )
      })()
      return closing
    },
  }
}
