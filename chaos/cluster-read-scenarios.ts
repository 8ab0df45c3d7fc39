/**
 * The clustered stack's faults on the read side (./dev.sh chaos --cluster): the PostgreSQL replica
 * the API reads, and one master of the Redis Cluster that caches event details, each taken away
 * under checked API load (api-load.ts: every answer must be 200 and equal to the counting
 * contract) and brought back. The data is settled first and checked against the contract on the
 * primary (and, for the replica, on the replica too), so an answer that differs is the fault's.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisNodeConfig } from '../src/config.ts'
import { createPostgres } from '../src/store/postgres.ts'
import { connectRedisAdmin, silentLogger, stackConfig } from '../test/helpers.ts'
import { expectationOf, waitForContract } from '../test/support/contract-check.ts'
import { get, metricValue, waitFor } from '../test/support/http.ts'
import { createIngestFixture, type IngestProcess, produce, startCommand } from '../test/support/ingest-harness.ts'
import { apiLoad, type LoadResult, startApiLoad } from './api-load.ts'
import { clusterServiceEnv, type Sampler, SESSION, sample, seconds, stackFunction } from './cluster-kit.ts'
import { generated, metric, type Scenario, verdict } from './kit.ts'

const CLIENTS = 8

/** The API's statements answered by `target` so far (rsvp_topk_db_reads_total). */
async function reads(service: IngestProcess, target: 'replica' | 'primary'): Promise<number> {
  const value = await metric(service, 'rsvp_topk_db_reads_total', `target="${target}"`)
  if (value === undefined) throw new Error('the service does not answer /metrics')
  return value
}

/** /readyz's status codes while sampled, and how many were not 200. */
function readyzSampler(service: IngestProcess): Sampler<number> {
  return sample(250, async () => (await get(service.base, '/readyz')).status)
}

const rate = (requests: number, ms: number) => `${Math.round(requests / (ms / 1000)).toLocaleString('en')}/s`

export const pgReplicaStop: Scenario = {
  name: 'pg-replica-stop',
  summary:
    'the PostgreSQL replica the API reads stopped (fast shutdown) under checked API load for 15 s, then started again: every answer 200 and exact, reads back on the replica (30,000 RSVPs; quick: 5,000, 3 s)',
  async run({ scope, size, log }) {
    const readEnv = process.env.DATABASE_READ_URL
    if (!readEnv) throw new Error('DATABASE_READ_URL is not set: run this through ./dev.sh chaos --cluster')
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 30_000 : 5000, 121)
    const env = clusterServiceEnv(fixture)
    // Every top-k request a statement: answer reuse (TOPK_CACHE_MS) and request coalescing
    // (TOPK_COALESCE) would keep most of the load away from the replica.
    const service = await startCommand(fixture, 'serve', {
      ...SESSION,
      ...env,
      TOPK_CACHE_MS: '0',
      TOPK_COALESCE: 'false',
    })
    await service.ready()
    await produce(fixture, messages)
    const settled = await verdict('pg-replica-stop', fixture, messages, { recoveryFrom: 0, restarts: 0, size })
    const notes: string[] = [...settled.notes]
    // The replica holds the contract too, or an answer it gives could not be checked against it.
    const replica = createPostgres({ url: env.DATABASE_READ_URL as string, poolSize: 1 }, { logger: silentLogger })
    try {
      const onReplica = await waitForContract(replica, expectationOf(messages.map((m) => m.value)), 120_000)
      notes.push(...onReplica.differences.slice(0, 5).map((d) => `on the replica: ${d}`))
    } finally {
      await replica.close()
    }
    const requests = size === 'full' ? 2000 : 300
    const warm = await apiLoad(service.base, messages, { requests, concurrency: CLIENTS })
    notes.push(...warm.failures.slice(0, 5))
    const onReplicaBefore = await reads(service, 'replica')
    if (onReplicaBefore === 0) notes.push('no read of the API went to the replica before the fault')
    log(`${warm.requests} checked requests with the replica up: ${warm.failures.length} failures`)

    const outage = size === 'full' ? 15_000 : 3000
    const load = startApiLoad(service.base, messages, { concurrency: CLIENTS })
    const readyz = readyzSampler(service)
    let down = false
    const t: Record<string, number> = {}
    const counts: Record<string, number> = {}
    let result: LoadResult
    try {
      await sleep(1000)
      t.stop = performance.now()
      counts.issuedAtStop = load.issued()
      down = true
      await stackFunction('pg_replica_stop')
      t.stopped = performance.now()
      log(`replica stopped (fast shutdown) at ${new Date().toISOString()}`)
      t.detected = await waitFor(
        '/readyz to name the replica down',
        async () =>
          (await get(service.base, '/readyz')).body?.dependencies?.replica?.status === 'down'
            ? performance.now()
            : undefined,
        60_000,
      )
      counts.replicaDown = await reads(service, 'replica')
      counts.primaryDown = await reads(service, 'primary')
      await sleep(outage)
      counts.replicaEnd = await reads(service, 'replica')
      counts.primaryEnd = await reads(service, 'primary')
      counts.issuedDown = load.issued() - counts.issuedAtStop
      t.start = performance.now()
      await stackFunction('pg_replica_start')
      down = false
      t.started = performance.now()
      log(`replica started again and streaming at ${new Date().toISOString()}`)
      t.back = await waitFor(
        'reads back on the replica',
        async () => ((await reads(service, 'replica')) > (counts.replicaEnd ?? 0) ? performance.now() : undefined),
        60_000,
      )
      t.readyUp = await waitFor(
        '/readyz to name the replica up',
        async () =>
          (await get(service.base, '/readyz')).body?.dependencies?.replica?.status === 'up'
            ? performance.now()
            : undefined,
        60_000,
      )
      await sleep(2000)
    } finally {
      result = await load.stop()
      await readyz.stop()
      if (down) {
        log('starting the replica again')
        await stackFunction('pg_replica_start').catch((error: unknown) => log(`the replica did not start: ${error}`))
      }
    }
    const loadMs = performance.now() - (t.stop as number) + 1000
    const ms = (from: string, to: string) => (t[to] as number) - (t[from] as number)
    const readyzNot200 = readyz.samples.filter((s) => s.value !== 200).length
    notes.push(...result.failures.slice(0, 5))
    if (result.failures.length > 5) notes.push(`… ${result.failures.length} failures in all`)
    if (readyzNot200 > 0)
      notes.push(`/readyz answered other than 200 ${readyzNot200} times of ${readyz.samples.length}`)
    const onReplicaWhileDown = (counts.replicaEnd ?? 0) - (counts.replicaDown ?? 0)
    if (onReplicaWhileDown !== 0) notes.push(`${onReplicaWhileDown} reads counted on the replica while it was down`)
    const figures = [
      `checked API load, ${CLIENTS} clients, top k without answer reuse: ${result.requests.toLocaleString('en')} requests (${rate(result.requests, loadMs)}), ${result.failures.length} failures, slowest answer ${Math.round(result.slowestMs)} ms`,
      `replica stopped (pg_replica_stop took ${seconds(ms('stop', 'stopped'))}); /readyz named it down ${seconds(ms('stop', 'detected'))} after the stop began, and answered 200 at all ${readyz.samples.length} probes`,
      `down ${seconds(ms('stop', 'started'))}: ${counts.issuedDown?.toLocaleString('en')} checked requests; reads while down: ${((counts.primaryEnd ?? 0) - (counts.primaryDown ?? 0)).toLocaleString('en')} on the primary, ${onReplicaWhileDown} on the replica`,
      `pg_replica_start (streaming again) took ${seconds(ms('start', 'started'))}; reads back on the replica ${seconds(ms('started', 'back'))} after, /readyz up ${seconds(ms('started', 'readyUp'))} after`,
    ]
    for (const figure of figures) log(figure)
    return {
      ...settled,
      exact: notes.length === 0,
      recoverySeconds: Math.round(ms('started', 'back') / 100) / 10,
      notes: [...notes, ...figures],
    }
  },
}

/** The Redis Cluster's masters as the service reports them: host:port -> in use (1) or not (0). */
async function clusterMembers(service: IngestProcess): Promise<Map<string, number>> {
  const reply = await get(service.base, '/metrics')
  const members = new Map<string, number>()
  for (const [, node, value] of reply.text.matchAll(/^rsvp_topk_cache_ring_member\{node="([^"]+)"\} (\S+)$/gm)) {
    members.set(node as string, Number(value))
  }
  return members
}

async function cacheLookups(service: IngestProcess): Promise<{ hit: number; miss: number }> {
  const text = (await get(service.base, '/metrics')).text
  return {
    hit: metricValue(text, 'rsvp_topk_cache_lookups_total', 'result="hit"') ?? 0,
    miss: metricValue(text, 'rsvp_topk_cache_lookups_total', 'result="miss"') ?? 0,
  }
}

/** This service's keys on one master (admin user: the service's may not run DBSIZE or SCAN all). */
async function keysOn(node: RedisNodeConfig): Promise<number> {
  const admin = await connectRedisAdmin(node)
  admin.on('error', () => {})
  try {
    let cursor = '0'
    let count = 0
    do {
      const [next, keys] = (await admin.call('SCAN', cursor, 'MATCH', 'rsvp-topk:*', 'COUNT', '1000')) as [
        string,
        string[],
      ]
      cursor = next
      count += keys.length
    } while (cursor !== '0')
    return count
  } finally {
    admin.disconnect()
  }
}

const hitRatio = (before: { hit: number; miss: number }, after: { hit: number; miss: number }) => {
  const hit = after.hit - before.hit
  const miss = after.miss - before.miss
  return hit + miss === 0 ? 'no lookups' : `${Math.round((100 * hit) / (hit + miss))}% hits of ${hit + miss}`
}

export const redisMasterKill: Scenario = {
  name: 'redis-master-kill',
  summary:
    'the Redis Cluster master holding most of the cached event details killed with SIGKILL under checked API load, started again (empty) 15 s later: every answer 200 and exact (30,000 RSVPs; quick: 5,000, 3 s)',
  async run({ scope, size, log }) {
    if (!process.env.REDIS_CLUSTER || process.env.REDIS_RING) {
      throw new Error('REDIS_CLUSTER must be set and REDIS_RING unset: run this through ./dev.sh chaos --cluster')
    }
    const masters = stackConfig().redis.cluster
    if (masters.length !== 3) throw new Error(`REDIS_CLUSTER names ${masters.length} nodes, not 3`)
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 30_000 : 5000, 122)
    // No in-process details tier: with it most requests would never reach the Redis Cluster.
    const service = await startCommand(fixture, 'serve', {
      ...SESSION,
      ...clusterServiceEnv(fixture),
      DETAILS_LOCAL_CACHE_MB: '0',
    })
    await service.ready()
    await produce(fixture, messages)
    const settled = await verdict('redis-master-kill', fixture, messages, { recoveryFrom: 0, restarts: 0, size })
    const notes: string[] = [...settled.notes]
    await waitFor(
      'the 3 masters in use',
      async () => {
        const members = await clusterMembers(service)
        return members.size === 3 && [...members.values()].every((v) => v === 1) ? true : undefined
      },
      60_000,
    ).catch(async (error: unknown) => {
      const members = await clusterMembers(service).catch(() => new Map())
      throw new Error(
        `${(error as Error).message} (the service says ${JSON.stringify([...members])}); its output ends with: ${service.output().slice(-3000)}`,
      )
    })
    const requests = size === 'full' ? 2000 : 300
    const lookupsBefore = await cacheLookups(service)
    const warm = await apiLoad(service.base, messages, { requests, concurrency: CLIENTS })
    notes.push(...warm.failures.slice(0, 5))
    const lookupsWarm = await cacheLookups(service)
    // The victim: the master with most of this run's cached details (the cache is shared).
    const held = await Promise.all(masters.map(async (node) => ({ node, keys: await keysOn(node) })))
    held.sort((a, b) => b.keys - a.keys)
    const victim = (held[0] as { node: RedisNodeConfig }).node
    log(
      `${warm.requests} checked requests with 3 masters (${hitRatio(lookupsBefore, lookupsWarm)}); keys: ${held.map((h) => `${h.node.id} ${h.keys}`).join(', ')}`,
    )

    const outage = size === 'full' ? 15_000 : 3000
    const load = startApiLoad(service.base, messages, { concurrency: CLIENTS })
    const readyz = readyzSampler(service)
    let down = false
    const t: Record<string, number> = {}
    const counts: Record<string, number> = {}
    const lookups: Record<string, { hit: number; miss: number }> = {}
    let result: LoadResult
    let keysAfter = 0
    try {
      await sleep(1000)
      t.kill = performance.now()
      down = true
      await stackFunction('redis_master_kill', String(victim.port))
      t.killed = performance.now()
      log(`master ${victim.id} killed at ${new Date().toISOString()}`)
      t.out = await waitFor(
        'the master out of use',
        async () => ((await clusterMembers(service)).get(victim.id) === 0 ? performance.now() : undefined),
        60_000,
      )
      counts.issuedOut = load.issued()
      lookups.out = await cacheLookups(service)
      await sleep(outage)
      lookups.outEnd = await cacheLookups(service)
      counts.issuedDown = load.issued() - counts.issuedOut
      t.start = performance.now()
      await stackFunction('redis_master_start', String(victim.port))
      down = false
      t.started = performance.now()
      log(`master ${victim.id} started again (cluster_state:ok on all) at ${new Date().toISOString()}`)
      t.in = await waitFor(
        'the master in use again',
        async () => ((await clusterMembers(service)).get(victim.id) === 1 ? performance.now() : undefined),
        60_000,
      )
      lookups.in = await cacheLookups(service)
      await sleep(3000)
      lookups.inEnd = await cacheLookups(service)
    } finally {
      result = await load.stop()
      await readyz.stop()
      if (down) {
        log(`starting master ${victim.id} again`)
        await stackFunction('redis_master_start', String(victim.port)).catch((error: unknown) =>
          log(`master ${victim.id} did not start: ${error}`),
        )
      }
    }
    keysAfter = await keysOn(victim)
    const loadMs = performance.now() - (t.kill as number) + 1000
    const ms = (from: string, to: string) => (t[to] as number) - (t[from] as number)
    const readyzNot200 = readyz.samples.filter((s) => s.value !== 200).length
    notes.push(...result.failures.slice(0, 5))
    if (result.failures.length > 5) notes.push(`… ${result.failures.length} failures in all`)
    if (readyzNot200 > 0)
      notes.push(`/readyz answered other than 200 ${readyzNot200} times of ${readyz.samples.length}`)
    if (keysAfter === 0) notes.push(`the restarted master ${victim.id} holds none of the service's keys after the load`)
    const none = { hit: 0, miss: 0 }
    const figures = [
      `checked API load, ${CLIENTS} clients: ${result.requests.toLocaleString('en')} requests (${rate(result.requests, loadMs)}), ${result.failures.length} failures, slowest answer ${Math.round(result.slowestMs)} ms; /readyz 200 at all ${readyz.samples.length} probes`,
      `killed master ${victim.id} (held ${(held[0] as { keys: number }).keys} of the service's keys); out of use for the service ${seconds(ms('kill', 'out'))} after the kill`,
      `while it was out (${seconds(outage)}): ${counts.issuedDown?.toLocaleString('en')} checked requests, details ${hitRatio(lookups.out ?? none, lookups.outEnd ?? none)} (the others' slots hit, its slots read from PostgreSQL)`,
      `redis_master_start (cluster_state:ok on all 3) took ${seconds(ms('start', 'started'))}; in use again ${seconds(ms('started', 'in'))} after; the 3 s after: ${hitRatio(lookups.in ?? none, lookups.inEnd ?? none)}, ${keysAfter} keys of the service on it again`,
    ]
    for (const figure of figures) log(figure)
    return {
      ...settled,
      exact: notes.length === 0,
      recoverySeconds: Math.round(ms('started', 'in') / 100) / 10,
      notes: [...notes, ...figures],
    }
  },
}
