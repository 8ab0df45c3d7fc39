/**
 * The chaos scenarios. Each drives real `rsvp-topk` processes against the real stack, does its
 * fault while RSVPs flow, and ends with the verdict of kit.ts. `quick` sizes run inside
 * ./dev.sh test; `full` sizes are what ./dev.sh chaos runs.
 *
 * Faults of the full suite happen at set moments or random ones (that is the scenario); the
 * quick ones wait for states instead (the ingest has retried, /readyz names the dependency), so
 * the tests do not depend on how fast the machine is.
 */
import { setTimeout as sleep } from 'node:timers/promises'

import { createRandom } from '../src/producer/random.ts'
import { connectRedisAdmin, stackConfig } from '../test/helpers.ts'
import { hostileMessages } from '../test/support/hostile-messages.ts'
import { get, waitFor } from '../test/support/http.ts'
import {
  createIngestFixture,
  type IngestProcess,
  produce,
  type StreamMessage,
  startCommand,
} from '../test/support/ingest-harness.ts'
import { apiLoad } from './api-load.ts'
import {
  type ChaosContext,
  type ChaosRow,
  counted,
  generated,
  kill,
  metric,
  type Scenario,
  stack,
  terminate,
  verdict,
} from './kit.ts'

const RATE = 5000

/** Fewer, shorter sessions than the service's default: a killed member leaves the group sooner. */
const SESSION = { KAFKA_SESSION_TIMEOUT_MS: '6000' }
// Stopping is the fault here: at info a member that fails to stop shows how far it got.
const MEMBER = { ...SESSION, LOG_LEVEL: process.env.TEST_INGEST_LOG_LEVEL ?? 'info' }

const sigkill: Scenario = {
  name: 'sigkill',
  summary: 'serve killed with SIGKILL 20 times at random moments while 500,000 RSVPs flow (quick: 3 in 20,000)',
  async run({ scope, size, log }) {
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 500_000 : 20_000, 101)
    const random = createRandom(101)
    const kills = size === 'full' ? 20 : 3
    const producing = produce(fixture, messages, 2000, { ratePerSecond: RATE })
    for (let i = 0; i < kills; i++) {
      const service = await startCommand(fixture, 'serve', SESSION)
      await sleep(size === 'full' ? random.int(1500, 6000) : random.int(500, 2500))
      await kill(service)
      log(`kill ${i + 1} of ${kills}`)
    }
    const last = await startCommand(fixture, 'serve', SESSION)
    await producing
    const recoveryFrom = performance.now()
    return verdict('sigkill', fixture, messages, { recoveryFrom, restarts: kills, size, running: [last] })
  },
}

const rollingRestart: Scenario = {
  name: 'rolling-restart',
  summary:
    '2 ingest processes in one group, restarted one at a time (SIGTERM, start, ready), 3 rounds while 200,000 RSVPs flow (quick: 1 round, 20,000)',
  async run({ scope, size, log }) {
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 200_000 : 20_000, 102)
    const members: IngestProcess[] = [
      await startCommand(fixture, 'ingest', MEMBER),
      await startCommand(fixture, 'ingest', MEMBER),
    ]
    await Promise.all(members.map((member) => member.ready()))
    const producing = produce(fixture, messages, 2000, { ratePerSecond: size === 'full' ? 4000 : RATE })
    const notes: (string | undefined)[] = []
    let restarts = 0
    const rounds = size === 'full' ? 3 : 1
    await counted(fixture, 1000)
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < members.length; i++) {
        notes.push(await terminate(members[i] as IngestProcess, `member ${i}`))
        const next = await startCommand(fixture, 'ingest', MEMBER)
        await next.ready()
        members[i] = next
        restarts++
        log(`round ${round + 1}: member ${i} restarted`)
      }
    }
    await producing
    const recoveryFrom = performance.now()
    return verdict('rolling-restart', fixture, messages, { recoveryFrom, restarts, size, notes })
  },
}

/**
 * A fault done to the stack while `count` RSVPs flow into one `serve`: the stream starts, the
 * fault comes once some RSVPs are counted, and the recovery is timed from its end.
 */
async function faultMidStream(
  name: string,
  { scope, size, log }: ChaosContext,
  stream: { readonly count: number; readonly seed: number },
  fault: (service: IngestProcess) => Promise<void>,
): Promise<ChaosRow> {
  const fixture = await createIngestFixture(scope)
  const messages = generated(stream.count, stream.seed)
  const service = await startCommand(fixture, 'serve', SESSION)
  await service.ready()
  const producing = produce(fixture, messages, 1000, { ratePerSecond: RATE })
  await counted(fixture, 1000)
  await fault(service)
  log('fault over')
  await producing
  const recoveryFrom = performance.now()
  return verdict(name, fixture, messages, { recoveryFrom, restarts: 0, size, running: [service] })
}

const postgresOutage: Scenario = {
  name: 'postgres-outage',
  summary:
    'PostgreSQL stopped for 15 s mid-stream (100,000 RSVPs; quick: 20,000, until the ingest has retried 3 times)',
  run: (context) =>
    faultMidStream(
      'postgres-outage',
      context,
      { count: context.size === 'full' ? 100_000 : 20_000, seed: 103 },
      async (service) => {
        await stack('down', 'postgres')
        context.log('PostgreSQL stopped')
        try {
          if (context.size === 'full') await sleep(15_000)
          else {
            await waitFor('the ingest to retry PostgreSQL', async () =>
              ((await metric(service, 'rsvp_topk_ingest_retries_total', 'dependency="postgres"')) ?? 0) >= 3
                ? true
                : undefined,
            )
          }
        } finally {
          await stack('up', 'postgres')
        }
      },
    ),
}

const kafkaRestart: Scenario = {
  name: 'kafka-restart',
  summary: 'the Kafka broker stopped and started again mid-stream (100,000 RSVPs; quick: 10,000)',
  run: (context) =>
    faultMidStream(
      'kafka-restart',
      context,
      { count: context.size === 'full' ? 100_000 : 10_000, seed: 104 },
      async () => {
        try {
          await stack('down', 'kafka')
          context.log('Kafka stopped')
        } finally {
          await stack('up', 'kafka')
        }
      },
    ),
}

const redisDown: Scenario = {
  name: 'redis-down',
  summary: '1, then 2 of the 3 Redis nodes stopped under API load: every answer 200 and exact (from PostgreSQL)',
  async run({ scope, size, log }) {
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 30_000 : 5000, 105)
    const service = await startCommand(fixture, 'serve', SESSION)
    await produce(fixture, messages)
    const settled = await verdict('redis-down', fixture, messages, { recoveryFrom: 0, restarts: 0, size })
    const requests = size === 'full' ? 3000 : 300
    const ring = stackConfig().redis.ring
    const notes: string[] = [...settled.notes]
    let recoveryFrom = performance.now()
    try {
      for (const [stopped, node] of ring.slice(0, 2).entries()) {
        if (!node) continue
        const admin = await connectRedisAdmin(node)
        admin.on('error', () => {})
        await admin.call('SHUTDOWN', 'NOSAVE').catch(() => {})
        admin.disconnect()
        log(`Redis ${node.id} stopped (${stopped + 1} of 3 down)`)
        await waitFor('the node to leave the ring', async () =>
          (await metric(service, 'rsvp_topk_cache_ring_member', `node="${node.id}"`)) === 0 ? true : undefined,
        )
        const load = await apiLoad(service.base, messages, { requests, concurrency: 8 })
        log(`${load.requests} requests with ${stopped + 1} node(s) down: ${load.failures.length} failures`)
        notes.push(...load.failures.slice(0, 5))
      }
    } finally {
      await stack('up', 'redis')
      recoveryFrom = performance.now()
    }
    for (const node of ring) {
      await waitFor('the node to rejoin the ring', async () =>
        (await metric(service, 'rsvp_topk_cache_ring_member', `node="${node.id}"`)) === 1 ? true : undefined,
      )
    }
    const rejoined = (performance.now() - recoveryFrom) / 1000
    const load = await apiLoad(service.base, messages, { requests, concurrency: 8 })
    notes.push(...load.failures.slice(0, 5))
    return { ...settled, exact: notes.length === 0, recoverySeconds: Math.round(rejoined * 10) / 10, notes }
  },
}

const startBeforePostgres: Scenario = {
  name: 'start-before-postgres',
  summary: 'serve started while PostgreSQL is down, which comes up 20 s later (quick: once /readyz names it)',
  async run({ scope, size, log }) {
    const fixture = await createIngestFixture(scope)
    const messages = generated(size === 'full' ? 50_000 : 5000, 106)
    await produce(fixture, messages)
    let service: IngestProcess | undefined
    const notes: (string | undefined)[] = []
    await stack('down', 'postgres')
    try {
      service = await startCommand(fixture, 'serve', SESSION)
      const waiting = await waitFor('/readyz to name postgres', async () => {
        const reply = await get((service as IngestProcess).base, '/readyz')
        return reply.status === 503 && reply.body?.dependencies?.postgres?.status === 'waiting' ? reply : undefined
      })
      log(`/readyz: ${waiting.status} ${waiting.body.error.message}`)
      if ((await get(service.base, '/healthz')).status !== 200) notes.push('/healthz was not 200 while waiting')
      if (size === 'full') await sleep(20_000)
      if (service.child.exitCode !== null) notes.push('serve exited while PostgreSQL was down')
    } finally {
      await stack('up', 'postgres')
    }
    log('PostgreSQL started')
    const recoveryFrom = performance.now()
    return verdict('start-before-postgres', fixture, messages, { recoveryFrom, restarts: 0, size, notes })
  },
}

const hostile: Scenario = {
  name: 'hostile',
  summary:
    '10,000 hostile messages (20 with 1 MiB strings) in 50,000 valid ones: no crash, no stall, every invalid one dead-lettered (quick: 1,000 in 5,000)',
  async run({ scope, size }) {
    // The topic takes records of a few MiB, as a producer's own topic may.
    const fixture = await createIngestFixture(scope, 6, { topicConfigs: { 'max.message.bytes': String(8 * 2 ** 20) } })
    const valid = generated(size === 'full' ? 50_000 : 5000, 107)
    const bad = hostileMessages({
      count: size === 'full' ? 10_000 : 1000,
      seed: 107,
      megabyteStrings: size === 'full' ? 20 : 2,
    })
    const messages: StreamMessage[] = []
    const random = createRandom(107)
    let v = 0
    let b = 0
    while (v < valid.length || b < bad.length) {
      const takeBad = b < bad.length && (v >= valid.length || random.chance(bad.length / (bad.length + valid.length)))
      messages.push(takeBad ? (bad[b++] as StreamMessage) : (valid[v++] as StreamMessage))
    }
    const service = await startCommand(fixture, 'serve', SESSION)
    await produce(fixture, messages, 500)
    const recoveryFrom = performance.now()
    const row = await verdict('hostile', fixture, messages, { recoveryFrom, restarts: 0, size })
    const notes = [...row.notes]
    if (service.child.exitCode !== null) notes.push('serve exited')
    // The lag is read every 5 s, so the stall clock reads 0 a few seconds after the last commit.
    await waitFor('the stall clock to read 0', async () =>
      (await metric(service, 'rsvp_topk_ingest_stalled_seconds')) === 0 ? true : undefined,
    ).catch(() => notes.push('rsvp_topk_ingest_stalled_seconds did not go back to 0'))
    return { ...row, exact: notes.length === 0, notes }
  },
}

export const scenarios: readonly Scenario[] = [
  sigkill,
  rollingRestart,
  postgresOutage,
  kafkaRestart,
  redisDown,
  startBeforePostgres,
  hostile,
]

export type { ChaosContext, ChaosRow }
