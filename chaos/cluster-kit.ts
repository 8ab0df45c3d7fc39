/**
 * What the clustered stack's chaos scenarios share (cluster-scenarios.ts and the files it lists):
 * the stack's own functions for a fault (stack/kafka-cluster.sh, postgres-cluster.sh,
 * redis-cluster.sh), background samplers for the figures of a fault, a producer that times its
 * sends, and the environment a service process of a fixture needs on the clustered stack.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createRawProducer, liveBrokers } from '../src/kafka/client.ts'
import type { KafkaConnection } from '../src/kafka/records.ts'
import { stackConfig } from '../test/helpers.ts'
import { type IngestFixture, type IngestProcess, ROOT, type StreamMessage } from '../test/support/ingest-harness.ts'
import { metric } from './kit.ts'

const run = promisify(execFile)

/** Fewer, shorter sessions than the service's default: a member that is gone leaves the group sooner. */
export const SESSION = { KAFKA_SESSION_TIMEOUT_MS: '6000' }
const OUTCOMES = ['applied', 'unchanged', 'invalid', 'refused']

/**
 * Runs one function of the stack's scripts (sourced as ./dev.sh sources them), e.g.
 * `stackFunction('pg_replica_stop')` or `stackFunction('redis_master_kill', '26479')`; resolves
 * with its stdout. The ports and folders are those of the environment: the defaults of
 * `./dev.sh up --cluster` unless RSVP_TOPK_CLUSTER_* move them.
 */
export async function stackFunction(fn: string, ...args: string[]): Promise<string> {
  const script = [
    'set -euo pipefail',
    ...['common', 'kafka', 'kafka-cluster', 'postgres', 'postgres-cluster', 'redis', 'redis-cluster'].map(
      (name) => `. stack/${name}.sh`,
    ),
    '"$@"',
  ].join('; ')
  try {
    const { stdout } = await run('bash', ['-c', script, 'chaos', fn, ...args], { cwd: ROOT, timeout: 300_000 })
    return stdout
  } catch (error) {
    const { stderr } = error as { stderr?: string }
    throw new Error(`${fn} ${args.join(' ')} failed: ${stderr?.slice(-2000) ?? error}`)
  }
}

/** Throws unless the cluster names 3 live brokers: these scenarios run against `./dev.sh up --cluster`. */
export async function requireThreeBrokers(kafka: KafkaConnection): Promise<void> {
  const brokers = await liveBrokers(kafka)
  if (brokers.length !== 3) {
    throw new Error(
      `the cluster names ${brokers.length} live brokers (${brokers.join(', ')}), not 3: run ./dev.sh up --cluster, and this through ./dev.sh chaos --cluster`,
    )
  }
}

/**
 * Settings of a service process of `fixture` on the clustered stack: DATABASE_READ_URL names the
 * replica with the fixture's own database (the environment's names the service's), so the API
 * reads on the replica what the ingest writes on the primary.
 */
export function clusterServiceEnv(fixture: Pick<IngestFixture, 'databaseUrl'>): Record<string, string> {
  const read = process.env.DATABASE_READ_URL
  if (!read) return {}
  const url = new URL(read)
  url.pathname = new URL(fixture.databaseUrl).pathname
  return { DATABASE_READ_URL: url.toString() }
}

/** A time series sampled in the background until stopped. */
export interface Sampler<T> {
  readonly samples: { readonly at: number; readonly value: T }[]
  stop(): Promise<void>
}

export function sample<T>(intervalMs: number, read: () => Promise<T | undefined>): Sampler<T> {
  const samples: { at: number; value: T }[] = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const at = performance.now()
      const value = await read().catch(() => undefined)
      if (value !== undefined) samples.push({ at, value })
      await sleep(Math.max(0, intervalMs - (performance.now() - at)))
    }
  })()
  return {
    samples,
    async stop() {
      stopped = true
      await loop
    },
  }
}

/** Messages the service has taken so far (all outcomes), from its /metrics. */
export async function messagesTaken(service: IngestProcess): Promise<number | undefined> {
  let total = 0
  for (const outcome of OUTCOMES) {
    const value = await metric(service, 'rsvp_topk_ingest_messages_total', `outcome="${outcome}"`)
    if (value === undefined && outcome === 'applied') return undefined
    total += value ?? 0
  }
  return total
}

/**
 * Sends `messages` in chunks at `ratePerSecond`, as the harness's produce() does, and times each
 * send: a send waits while a partition has no leader or too few replicas in sync (acks=all).
 */
export async function timedProduce(
  fixture: Pick<IngestFixture, 'topic'>,
  messages: readonly StreamMessage[],
  chunk: number,
  ratePerSecond: number,
): Promise<{ at: number; ms: number }[]> {
  const producer = createRawProducer(stackConfig().kafka)
  const sends: { at: number; ms: number }[] = []
  const started = performance.now()
  const bytes = (value: string | Buffer) => (typeof value === 'string' ? Buffer.from(value) : value)
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      const at = performance.now()
      await producer.send(
        messages.slice(i, i + chunk).map((m) => ({
          topic: fixture.topic,
          key: m.key === undefined ? undefined : bytes(m.key),
          value: m.value === null ? null : bytes(m.value),
        })),
      )
      sends.push({ at, ms: performance.now() - at })
      const due = started + ((i + chunk) / ratePerSecond) * 1000
      if (due > performance.now()) await sleep(due - performance.now())
    }
  } finally {
    await producer.close()
  }
  return sends
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** One rebalance of a consumer group as its coordinator logged it (brokers' kafka.out). */
export interface Rebalance {
  /** the broker's log time, epoch ms (the broker's clock, read as local time) */
  readonly at: number
  readonly generation: number
  /** why, as the coordinator says: a member left, joined, or its session expired */
  readonly reason: string
  /** from PreparingRebalance to Stabilized (undefined: the group emptied, or not stabilized yet) */
  readonly ms: number | undefined
  readonly members: number | undefined
}

/**
 * The rebalances of `groupId` that the cluster's coordinators logged (INFO lines of
 * GroupMetadataManager in .local/cluster/kafka-<n>/kafka.out), in order.
 */
export function groupRebalances(groupId: string): Rebalance[] {
  const local = process.env.RSVP_TOPK_LOCAL_DIR ?? join(ROOT, '.local')
  const time = (text: string) => new Date(text.replace(' ', 'T').replace(',', '.')).getTime()
  const prepared = new Map<number, { at: number; reason: string }>()
  const stabilized = new Map<number, { at: number; members: number }>()
  const escaped = groupId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const prepare = new RegExp(
    `^\\[([\\d-]+ [\\d:,]+)\\] INFO .*Preparing to rebalance group ${escaped} in state \\w+ with old generation (\\d+) \\(reason: (.*)\\)\\. \\(org\\.apache`,
  )
  const stable = new RegExp(
    `^\\[([\\d-]+ [\\d:,]+)\\] INFO .*Stabilized group ${escaped} generation (\\d+) with (\\d+) members`,
  )
  for (const node of [1, 2, 3]) {
    let text: string
    try {
      text = readFileSync(join(local, 'cluster', `kafka-${node}`, 'kafka.out'), 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n')) {
      if (!line.includes(groupId)) continue
      const p = prepare.exec(line)
      if (p) prepared.set(Number(p[2]), { at: time(p[1] as string), reason: shortReason(p[3] as string) })
      const s = stable.exec(line)
      if (s) stabilized.set(Number(s[2]), { at: time(s[1] as string), members: Number(s[3]) })
    }
  }
  return [...prepared]
    .sort(([a], [b]) => a - b)
    .map(([generation, { at, reason }]) => {
      const done = stabilized.get(generation + 1)
      return { at, generation, reason, ms: done && done.at - at, members: done?.members }
    })
}

function shortReason(reason: string): string {
  if (reason.includes('LeaveGroup')) return 'a member left'
  if (reason.includes('Adding new member'))
    return /group instance id null/.test(reason) ? 'a member joined' : 'a static member joined'
  if (reason.includes('heartbeat expiration')) return "a member's session expired"
  return reason.slice(0, 80)
}
