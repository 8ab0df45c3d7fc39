/**
 * The cache on a Redis Cluster (REDIS_CLUSTER), behind the ring's interface (CacheRing), so the
 * event-details cache and the ingest's invalidations work the same on either. The cluster places
 * keys itself (hash slots, each owned by one master); ioredis's Cluster client routes by its slot
 * map. What this module adds is what the ring does for its nodes: a health check of each master,
 * and staleness.
 *
 * Health: each master that owns slots gets a connection of its own and a CLUSTER INFO every
 * second; it is in use while it answers with cluster_state:ok. A master out of use costs only its
 * slots: their keys are misses (read from PostgreSQL), nothing is sent to it, so a dead or hung
 * master cannot stall a request; every command also has a time limit, for the moment before the
 * health check notices. Unlike the ring, keys never move to another master while one is out.
 *
 * Staleness: a master out of use misses the deletions meant for it. Restarted, it is empty (no
 * persistence), but a master that only hung, or was cut off, still holds the old entries. So
 * this service's keys on it (those under `keyPrefix`) are deleted before it is used again, as
 * the ring does; other keys on it are left alone. A replica promoted in a failover got the
 * deletions its master received, except for those the asynchronous replication lost: the TTL
 * bounds those.
 */
import type { RedisNodeConfig } from '../config.ts'
import {
  type ClusterConnection,
  createClusterConnection,
  createRedisConnection,
  deleteByPrefix,
  isReplyError,
  type RedisConnection,
} from './redis-node.ts'
import type { CacheRing, CacheRingMember, CacheRingOptions } from './ring.ts'
import { groupBySlot } from './slots.ts'

interface Master {
  /** host:port, as the cluster's slot map names it */
  readonly id: string
  /** for the health check and for clearing stale keys, apart from the client's own */
  readonly connection: RedisConnection
  /** in use: commands for its slots are sent */
  healthy: boolean
  /** may hold entries that a deletion did not reach: cleared before it is used */
  stale: boolean
  checking: boolean
}

/** A master's share of a request: its keys, one group per slot (one command each). */
type Share = readonly [Master, string[][]]

/**
 * A cache on a Redis Cluster reached through `seeds`. Like the ring, it is only a cache: a master
 * that is down, slow or failing turns into misses, never into an error for the caller.
 */
export function createClusterCache(seeds: readonly RedisNodeConfig[], options: CacheRingOptions): CacheRing {
  const log = options.logger.child({ component: 'cache-cluster' })
  const commandTimeoutMs = options.commandTimeoutMs ?? 500
  const client: ClusterConnection = createClusterConnection(seeds, { commandTimeoutMs })
  const masters = new Map<string, Master>()
  // A deletion sent before the slot map was known reached no master: those found later may hold it.
  let deletionsUnrouted = false
  let closing: Promise<void> | undefined

  function members(): CacheRingMember[] {
    // Until the slot map is known, the seeds stand for the masters: each is reported, and not up.
    if (masters.size === 0) return seeds.map(({ id }) => ({ id, healthy: false }))
    return [...masters.values()].map(({ id, healthy }) => ({ id, healthy }))
  }

  function membershipChanged(): void {
    try {
      options.onMembershipChange?.(members())
    } catch (err) {
      log.warn({ err }, 'onMembershipChange threw')
    }
  }

  function leave(master: Master, err: unknown): void {
    if (closing !== undefined || !master.healthy) return
    master.healthy = false
    master.stale = true
    log.warn({ node: master.id, err }, 'cache cluster master is out of use')
    membershipChanged()
  }

  /** Asks the master for its cluster state; one that says ok is cleared if need be, then used. */
  async function check(master: Master): Promise<void> {
    if (master.checking || closing !== undefined) return
    master.checking = true
    try {
      if (master.connection.status !== 'ready') throw new Error(`connection is ${master.connection.status}`)
      const info = String(await master.connection.call('CLUSTER', 'INFO'))
      // A master that lost the majority of the cluster answers, and refuses every key.
      if (!/^cluster_state:ok\r?$/m.test(info)) throw new Error('cluster_state is not ok')
      if (master.healthy) return
      const cleared = master.stale
        ? await deleteByPrefix(master.connection, options.keyPrefix, { oneKeyPerCommand: true })
        : undefined
      if (closing !== undefined || !masters.has(master.id)) return
      master.stale = false
      master.healthy = true
      log.info({ node: master.id, cleared }, 'cache cluster master is in use')
      // The slot map may have changed while it was out (a replica took over, slots moved): read
      // it now rather than at the client's next refresh (every 5 s).
      client.refreshSlotsCache()
      membershipChanged()
    } catch (err) {
      leave(master, err)
    } finally {
      master.checking = false
    }
  }

  function addMaster(id: string): void {
    const split = id.lastIndexOf(':')
    const host = id.slice(0, split)
    const port = Number(id.slice(split + 1))
    const first = seeds[0]
    const node = { host, port, username: first?.username, id } as RedisNodeConfig
    Object.defineProperty(node, 'password', { value: first?.password, enumerable: false })
    const master: Master = {
      id,
      connection: createRedisConnection(node, { commandTimeoutMs }),
      healthy: false,
      stale: deletionsUnrouted,
      checking: false,
    }
    masters.set(id, master)
    master.connection.on('error', (err: Error) => log.debug({ node: id, err }, 'cache cluster master connection error'))
    master.connection.on('close', () => leave(master, new Error('connection closed')))
    master.connection.on('ready', () => void check(master))
  }

  /** Follows the slot map: a health check for each master that owns slots, none for the others. */
  function followSlotMap(): void {
    if (closing !== undefined) return
    const current = new Set<string>()
    for (const owners of client.slots) if (owners?.[0] !== undefined) current.add(owners[0])
    if (current.size === 0) return
    let changed = masters.size === 0
    for (const id of current) {
      if (masters.has(id)) continue
      addMaster(id)
      changed = true
    }
    for (const [id, master] of masters) {
      if (current.has(id)) continue
      masters.delete(id)
      master.connection.disconnect()
      log.info({ node: id }, 'no longer a master of the cache cluster')
      changed = true
    }
    deletionsUnrouted = false
    if (changed) membershipChanged()
  }

  /**
   * The keys by master in use, one group per slot. Keys whose master is out of use, or unknown
   * (before the slot map is), or all keys while the client is not ready, are left out; `skipped`
   * names their masters (undefined: unknown).
   */
  function route(keys: Iterable<string>): { shares: Share[]; skipped: Set<string | undefined> } {
    const byMaster = new Map<Master, string[][]>()
    const skipped = new Set<string | undefined>()
    const ready = client.status === 'ready'
    for (const [slot, group] of groupBySlot(keys)) {
      const owner = client.slots[slot]?.[0]
      const master = owner === undefined ? undefined : masters.get(owner)
      if (!ready || master === undefined || !master.healthy) {
        skipped.add(owner)
        continue
      }
      const groups = byMaster.get(master)
      if (groups) groups.push(group)
      else byMaster.set(master, [group])
    }
    return { shares: [...byMaster], skipped }
  }

  /**
   * Runs one pipeline of a master's share within the time limit; undefined if it failed. A lost
   * connection or a timeout takes the master out of use; an error reply (the master answered)
   * does not, unless `strict` (deletions: a master that did not delete may hold stale entries).
   */
  async function attempt(
    master: Master,
    what: string,
    build: (pipeline: ReturnType<ClusterConnection['pipeline']>) => void,
    strict = false,
  ): Promise<unknown[] | undefined> {
    let timer: NodeJS.Timeout | undefined
    try {
      const pipeline = client.pipeline()
      build(pipeline)
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took more than ${commandTimeoutMs} ms`)), commandTimeoutMs)
      })
      const replies = (await Promise.race([pipeline.exec(), timeout])) ?? []
      const failed = replies.find(([err]) => err !== null)?.[0]
      if (failed) throw failed
      return replies.map(([, value]) => value)
    } catch (err) {
      if (isReplyError(err) && !strict) log.debug({ node: master.id, err }, `${what} failed`)
      else leave(master, err)
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  client.on('error', (err: Error) => log.debug({ err }, 'cache cluster client error'))
  client.on('node error', (err: Error, node: string) => log.debug({ node, err }, 'cache cluster node error'))
  client.on('refresh', followSlotMap)
  client.on('ready', followSlotMap)
  const timer = setInterval(() => {
    for (const master of masters.values()) void check(master)
  }, options.healthIntervalMs ?? 1000)
  timer.unref()

  return {
    async getMany(keys) {
      const found = new Map<string, string>()
      if (keys.length === 0) return found
      await Promise.all(
        route(keys).shares.map(async ([master, groups]) => {
          const replies = await attempt(master, 'MGET', (pipeline) => {
            for (const group of groups) pipeline.mget(group)
          })
          for (const [i, values] of (replies ?? []).entries()) {
            const group = groups[i] as string[]
            for (const [j, value] of (values as Array<string | null>).entries()) {
              if (value !== null) found.set(group[j] as string, value)
            }
          }
        }),
      )
      return found
    },

    async setMany(entries, ttlSeconds) {
      const values = new Map(entries)
      await Promise.all(
        route(values.keys()).shares.map(([master, groups]) =>
          attempt(master, 'SET', (pipeline) => {
            for (const key of groups.flat()) pipeline.set(key, values.get(key) as string, 'EX', ttlSeconds)
          }),
        ),
      )
    },

    async deleteMany(keys) {
      if (keys.length === 0) return
      const { shares, skipped } = route(keys)
      // Masters this deletion cannot reach may hold the entries: cleared before they are used.
      for (const owner of skipped) {
        const master = owner === undefined ? undefined : masters.get(owner)
        if (master) {
          master.stale = true
          leave(master, new Error(`a deletion could not be sent (cluster client ${client.status})`))
        }
        // No master known for the slot yet: whichever the slot map names next starts stale.
        else deletionsUnrouted = true
      }
      await Promise.all(
        shares.map(([master, groups]) =>
          attempt(
            master,
            'DEL',
            (pipeline) => {
              for (const group of groups) pipeline.del(group)
            },
            true,
          ),
        ),
      )
    },

    members,

    close() {
      closing ??= (async () => {
        clearInterval(timer)
        for (const master of masters.values()) {
          master.healthy = false
          master.connection.disconnect()
        }
        // QUIT waits for every node's answer: a hung one would hold the close up.
        client.disconnect()
      })()
      return closing
    },
  }
}
