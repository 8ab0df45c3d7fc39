/**
 * The read replica (DATABASE_READ_URL) on a real primary and streaming replica of the test's own
 * (stack/postgres-cluster.sh, test/support/pg-cluster.ts), with `ingest` writing the primary and
 * `api` reading the replica, as separate processes:
 *
 * - reads follow the replica and are exact; the lag is exported; /readyz names the replica;
 * - a live stream gets a batch even while the replica has not replayed it (replay paused): the
 *   notice carries the batch's WAL position, the api waits for the replica to reach it, and
 *   computes from the primary when it does not; ordinary reads leave a replica that stays behind;
 * - the replica stopped: every answer stays 200 and exact, from the primary, /readyz stays 200 and
 *   says the replica is down; started again, reads return to it.
 *
 * Every step waits for a state, never for a delay.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { deleteTopics, ensureTopics } from '../../src/kafka/client.ts'
import { type GeneratedMessage, generateStream } from '../../src/producer/generator.ts'
import { migrate } from '../../src/store/migrate.ts'
import { createPostgres } from '../../src/store/postgres.ts'
import { silentLogger, stackConfig, uniqueName } from '../helpers.ts'
import { computeExpected, type ExpectedRank, topK } from '../support/contract-oracle.ts'
import { get, metricValue, type Reply, waitFor } from '../support/http.ts'
import { type IngestFixture, type IngestProcess, produce, startCommand } from '../support/ingest-harness.ts'
import { startPgCluster } from '../support/pg-cluster.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'
import { openStream } from '../support/sse-client.ts'

const HOUR = 3_600_000
const K = 5

interface Ranking {
  k: number
  events: Array<{ rank: number; event_id: string; yes_rsvps: number; attendees: number }>
}

const ranksOf = (body: Ranking): ExpectedRank[] =>
  body.events.map((event) => ({ eventId: event.event_id, yes: event.yes_rsvps, attendees: event.attendees }))

async function scrape(api: IngestProcess): Promise<string> {
  return (await get(api.base, '/metrics')).text
}

const reads = (metrics: string, target: 'replica' | 'primary') =>
  metricValue(metrics, 'rsvp_topk_db_reads_total', `target="${target}"`) ?? 0

/** /readyz, asserting it is 200 (the replica never makes the api unready); its replica entry. */
async function replicaReadiness(api: IngestProcess): Promise<{ status: string; error?: string }> {
  const ready = await get(api.base, '/readyz')
  assert.equal(ready.status, 200, `/readyz: ${ready.text}`)
  return ready.body.dependencies.replica
}

test('the api reads a streaming replica, waits for it on live streams, and answers from the primary without it', async (t) => {
  const config = stackConfig()
  const topic = uniqueName('rsvps-replica-it')
  // After-hooks run in the order they were added: processes, then the pool, then the topics, then
  // the cluster (startPgCluster adds its own teardown, which runs last).
  const processes = new Set<ChildProcess>()
  t.after(async () => {
    for (const child of processes) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await once(child, 'exit')
      }
    }
  })
  const pools: Array<{ close(): Promise<void> }> = []
  t.after(async () => {
    for (const pool of pools) await pool.close()
  })
  t.after(() => deleteTopics(config.kafka, [topic, `${topic}.dlq`]))
  const cluster = await startPgCluster(t, 'read-replica')

  const db = createPostgres({ url: cluster.primaryUrl, poolSize: 2 }, { logger: silentLogger })
  const replicaDb = createPostgres({ url: cluster.replicaUrl, poolSize: 1 }, { logger: silentLogger })
  pools.push(db, replicaDb)
  await migrate(db, { logger: silentLogger })
  await ensureTopics(config.kafka, [
    { name: topic, partitions: 3 },
    { name: `${topic}.dlq`, partitions: 3 },
  ])
  const groupId = uniqueName('ingest-replica-it')
  const fixture: IngestFixture = {
    topic,
    groupId,
    databaseUrl: cluster.primaryUrl,
    db,
    processes,
    env: {
      ...process.env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: groupId,
      KAFKA_PARTITIONS: '3',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      DATABASE_URL: cluster.primaryUrl,
      LOG_LEVEL: process.env.TEST_INGEST_LOG_LEVEL ?? 'warn',
    },
  }
  const ingest = await startCommand(fixture, 'ingest')
  // Every request computes (no answer reuse), so each one is a read the metric counts.
  const api = await startCommand(fixture, 'api', {
    DATABASE_READ_URL: cluster.replicaUrl,
    TOPK_CACHE_MS: '0',
    REPLICA_MAX_LAG_SECONDS: '3',
  })
  await Promise.all([ingest.ready(), api.ready()])

  const start = Math.floor((Date.now() - 2 * 86_400_000) / HOUR) * HOUR
  const messages: GeneratedMessage[] = [
    ...generateStream({ count: 3000, seed: 1414, events: 60, groups: 20, startMtime: start, spanDays: 2 }),
  ]
  /** Resolves once the api's top k equals the contract's for what was sent; returns it. */
  const exactTopk = (what: string) =>
    waitFor(
      what,
      async () => {
        const want = topK(computeExpected(messages.map((m) => m.value)), K)
        const reply = await get(api.base, `/api/v1/events/topk?k=${K}`)
        assert.equal(reply.status, 200, reply.text)
        return JSON.stringify(ranksOf(reply.body)) === JSON.stringify(want) ? want : undefined
      },
      120_000,
    )
  /** Resolves once a top-k request was answered by `target` (a read the metric counted). */
  const readsFollow = (target: 'replica' | 'primary') =>
    waitFor(
      `top-k reads to come from the ${target}`,
      async () => {
        const before = reads(await scrape(api), target)
        assert.equal((await get(api.base, `/api/v1/events/topk?k=${K}`)).status, 200)
        return reads(await scrape(api), target) > before ? true : undefined
      },
      120_000,
    )

  await t.test('reads follow the replica, exactly, and its lag and state are exported', async (st) => {
    await waitFor('/readyz to name the replica up', async () =>
      (await replicaReadiness(api)).status === 'up' ? true : undefined,
    )
    const stream = await openStream(`${api.base}/api/v1/events/topk/stream?k=${K}`)
    st.after(() => stream.close())
    assert.equal(stream.status, 200)
    await stream.waitForEvent<Ranking>('ranking', (r) => r.events.length === 0)

    await produce(fixture, messages)
    const want = await exactTopk('the top k from the replica to equal the contract')
    await readsFollow('replica')
    // The stream follows the same batches.
    await stream.waitForEvent<Ranking>('ranking', (r) => JSON.stringify(ranksOf(r)) === JSON.stringify(want))
    // An event and its history are read from the replica too: its counts, then the history's
    // counts and hours, 3 reads at least.
    const leader = encodeURIComponent(want[0]?.eventId as string)
    await waitFor('an event and its history to be read from the replica', async () => {
      const before = reads(await scrape(api), 'replica')
      const event = await get(api.base, `/api/v1/events/${leader}`)
      assert.equal(event.status, 200)
      assert.equal(event.body.yes_rsvps, want[0]?.yes)
      assert.equal((await get(api.base, `/api/v1/events/${leader}/history`)).status, 200)
      return reads(await scrape(api), 'replica') >= before + 3 ? true : undefined
    })
    const metrics = await scrape(api)
    const lag = metricValue(metrics, 'rsvp_topk_db_replica_lag_seconds')
    assert.ok(lag !== undefined && Number.isFinite(lag) && lag >= 0, `rsvp_topk_db_replica_lag_seconds ${lag}`)
    assert.equal(metricValue(metrics, 'rsvp_topk_dependency_up', 'dependency="replica"'), 1)
  })

  await t.test('a live stream gets a batch the replica has not replayed, from the primary', async (st) => {
    const stream = await openStream(`${api.base}/api/v1/events/topk/stream?k=${K}`)
    st.after(() => stream.close())
    const first = await stream.waitForEvent<Ranking>('ranking', (r) => r.events.length === K)
    assert.equal(await cluster.psql('replica', 'SELECT pg_wal_replay_pause()'), '')
    await waitFor('replay to be paused', async () =>
      (await cluster.psql('replica', 'SELECT pg_get_wal_replay_pause_state()')) === 'paused' ? true : undefined,
    )
    // A new leader, with more yes RSVPs than any event has: one batch, one notice.
    const top = (first.events[0]?.yes_rsvps ?? 0) + 5
    const surge = Array.from({ length: top }, (_, i) =>
      rsvpMessage({ rsvpId: 900_000 + i, eventId: 'replica-surge', mtime: start + HOUR + i }),
    )
    messages.push(...surge)
    await produce(fixture, surge)
    const pushed = await stream.waitForEvent<Ranking>('ranking', (r) => r.events[0]?.event_id === 'replica-surge')
    assert.equal(pushed.events[0]?.yes_rsvps, top)
    // The stream had it while the replica still did not: it was computed from the primary.
    assert.equal(await cluster.psql('replica', 'SELECT pg_get_wal_replay_pause_state()'), 'paused')
    const onReplica = await replicaDb.query('SELECT 1 FROM events WHERE event_id = $1', ['replica-surge'])
    assert.equal(onReplica.rowCount, 0, 'the replica has not replayed the batch')
    // Ordinary reads leave a replica that stays behind batches heard of (REPLICA_MAX_LAG_SECONDS 3).
    const behind = await waitFor('/readyz to say the replica is behind', async () => {
      const replica = await replicaReadiness(api)
      return replica.status === 'down' ? replica : undefined
    })
    assert.match(behind.error ?? '', /behind \(REPLICA_MAX_LAG_SECONDS 3\); reads go to the primary/)
    await exactTopk('the top k to hold the surge while the replica is behind')

    assert.equal(await cluster.psql('replica', 'SELECT pg_wal_replay_resume()'), '')
    await waitFor('/readyz to name the replica up again', async () =>
      (await replicaReadiness(api)).status === 'up' ? true : undefined,
    )
    await readsFollow('replica')
  })

  await t.test(
    'the replica stopped: answers stay 200 and exact from the primary; started again, reads return',
    async (st) => {
      const want = await exactTopk('the top k before the replica stops')
      await cluster.stopReplica()
      await waitFor('/readyz to name the replica down', async () => {
        const replica = await replicaReadiness(api)
        return replica.status === 'down' && /does not answer/.test(replica.error ?? '') ? true : undefined
      })
      const before = await scrape(api)
      for (let i = 0; i < 20; i++) {
        const reply = await get(api.base, `/api/v1/events/topk?k=${K}`)
        assert.equal(reply.status, 200, reply.text)
        assert.deepEqual(ranksOf(reply.body as Reply), want)
      }
      const during = await scrape(api)
      assert.ok(reads(during, 'primary') >= reads(before, 'primary') + 20, 'the primary answered the 20 requests')
      assert.equal(reads(during, 'replica'), reads(before, 'replica'), 'nothing was answered by a stopped replica')
      assert.ok(Number.isNaN(metricValue(during, 'rsvp_topk_db_replica_lag_seconds')), 'no lag is known for it')
      assert.equal(metricValue(during, 'rsvp_topk_dependency_up', 'dependency="replica"'), 0)

      // Batches still reach streams and answers, through the primary.
      const stream = await openStream(`${api.base}/api/v1/events/topk/stream?k=${K}`)
      st.after(() => stream.close())
      const late = Array.from({ length: (want[0]?.yes ?? 0) + 3 }, (_, i) =>
        rsvpMessage({ rsvpId: 950_000 + i, eventId: 'replica-down', mtime: start + 2 * HOUR + i }),
      )
      messages.push(...late)
      await produce(fixture, late)
      await stream.waitForEvent<Ranking>('ranking', (r) => r.events[0]?.event_id === 'replica-down')
      await exactTopk('the top k with the replica down')

      await cluster.startReplica()
      await waitFor('/readyz to name the replica up again', async () =>
        (await replicaReadiness(api)).status === 'up' ? true : undefined,
      )
      await readsFollow('replica')
      await exactTopk('the top k from the replica again')
      // What was committed while it was stopped came from the primary's slot.
      await waitFor('the replica to catch up', async () => {
        const event = await replicaDb.query<{ yes_rsvps: number }>('SELECT yes_rsvps FROM events WHERE event_id = $1', [
          'replica-down',
        ])
        return event.rows[0]?.yes_rsvps === late.length ? true : undefined
      })
    },
  )

  // The processes shut down cleanly with the replica in any state.
  api.child.kill('SIGTERM')
  ingest.child.kill('SIGTERM')
  assert.equal((await api.exited).code, 0, api.output().slice(-2000))
  assert.equal((await ingest.exited).code, 0, ingest.output().slice(-2000))
  assert.doesNotMatch(api.output(), /"level":(50|60)/, 'no error was logged by the api')
})
