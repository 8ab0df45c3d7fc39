/**
 * Live streams at scale: what PostgreSQL sees when many clients follow the ranking.
 *
 *   eval "$(./dev.sh env)" && node bench/stream-fanout.ts [--streams 1000] [--batches 40] [--rate 10] [--k 10]
 *
 * Starts `rsvp-topk ingest` and `rsvp-topk api` as separate processes on a fresh database and
 * topic, loads a generated stream of 20,000 RSVPs, then opens --streams live streams spread over
 * four distinct queries (all-time, a country, a topic, the last 24 h) and sends --batches RSVPs at
 * --rate a second (each commits as its own batch). It then reads pg_stat_statements (the app role
 * has pg_read_all_stats) for the top-k statements the api ran while the streams were open, and
 * prints them beside the batches committed, the rankings computed for streams and the rankings
 * the clients received. The claim it checks: top-k statements ≈ batches × distinct queries (at
 * most 4 a second each), never × streams.
 *
 * Writes bench/results/stream-fanout.json.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { createParser } from 'eventsource-parser'
import { loadConfig } from '../src/config.ts'
import { createRawProducer, deleteTopics } from '../src/kafka/client.ts'
import { createPostgres } from '../src/store/postgres.ts'
import { freePort } from '../test/helpers.ts'
import { metricValue } from '../test/support/http.ts'
import {
  createFreshDatabase,
  fillTopic,
  machine,
  peakRssMb,
  positiveInteger,
  positiveNumber,
  silent,
} from './support.ts'

const program: Command = new Command('stream-fanout')
  .description(
    "Live streams at scale: `rsvp-topk ingest` and `rsvp-topk api` on a fresh database, many live top-k streams over four queries while RSVPs arrive batch by batch; prints the top-k statements PostgreSQL ran against batches × queries, and the api's peak RSS.",
  )
  .option('--streams <n>', 'live streams opened, spread over four queries', positiveInteger, 1000)
  .option('--batches <n>', 'RSVPs sent while the streams are open, each its own batch', positiveInteger, 40)
  .option('--rate <n>', 'of those, sent per second (0.5: one every 2 s)', positiveNumber, 10)
  // with k=1000 each ranking is about half a megabyte, sent to every stream
  .option('--k <n>', 'k of every query', positiveInteger, 10)
  .addHelpText(
    'after',
    '\nRun inside eval "$(./dev.sh env)"; --k is at most the api\'s TOPK_MAX_K. Writes bench/results/stream-fanout.json.',
  )
  .parse()
const args = program.opts<{ streams: number; batches: number; rate: number; k: number }>()
const streamCount = args.streams
const batchCount = args.batches
const rate = args.rate
const QUERIES = ['', '&country=us', '&topic=softwaredev', '&last=24h'].map((filter) => `k=${args.k}${filter}`)
// The statements of store/topk-queries.ts: all-time, per day, and the window's CTE.
const TOPK_STATEMENTS = `(query LIKE 'SELECT e.event_id, e.yes_rsvps%' OR query LIKE 'SELECT c.event_id, c.yes_rsvps%' OR query LIKE 'WITH counted AS%')`

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
// The api would refuse every stream, but only after the database, the topic and both processes.
if (args.k > config.http.maxK) program.error(`error: --k ${args.k} is above the api's TOPK_MAX_K (${config.http.maxK})`)
const run = `fanout_${Date.now().toString(36)}`
const database = await createFreshDatabase(config, run)
const stats = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silent })
const children: ChildProcess[] = []
const streams: Array<{ rankings: number; close(): void }> = []

function start(command: 'ingest' | 'api', port: number): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/rsvp-topk.js', import.meta.url)), command], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      KAFKA_TOPIC: run,
      KAFKA_GROUP_ID: run,
      [command === 'ingest' ? 'METRICS_PORT' : 'HTTP_PORT']: String(port),
      LOG_LEVEL: 'warn',
      // The rankings are what this measures: no reused answers in between.
      TOPK_CACHE_MS: '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  children.push(child)
  return child
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 300_000
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const scrape = async (base: string) => (await fetch(`${base}/metrics`)).text()

async function topkCalls(): Promise<number> {
  const result = await stats.query<{ calls: number | null }>(
    `SELECT sum(calls)::bigint AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = $1 AND ${TOPK_STATEMENTS}`,
    [run],
  )
  return Number(result.rows[0]?.calls ?? 0)
}

async function follow(url: string): Promise<{ rankings: number; close(): void }> {
  const abort = new AbortController()
  const response = await fetch(url, { signal: abort.signal })
  if (!response.ok || response.body === null) throw new Error(`a stream answered ${response.status}`)
  const stream = { rankings: 0, close: () => abort.abort() }
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === 'ranking') stream.rankings++
    },
  })
  const body = response.body
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }))
  })().catch(() => {})
  return stream
}

try {
  await fillTopic(config, run, { count: 20_000, seed: 5, events: 2000, startMtime: Date.now() - 3_600_000 })
  const ingestBase = `http://127.0.0.1:${await freePort()}`
  const apiBase = `http://127.0.0.1:${await freePort()}`
  start('ingest', Number(new URL(ingestBase).port))
  const apiChild = start('api', Number(new URL(apiBase).port))
  await until('the ingest to apply the first 20,000 RSVPs', async () => {
    const text = await scrape(ingestBase)
    const applied = ['applied', 'unchanged', 'invalid', 'refused'].reduce(
      (sum, outcome) => sum + (metricValue(text, 'rsvp_topk_ingest_messages_total', `outcome="${outcome}"`) ?? 0),
      0,
    )
    return applied >= 20_000
  })
  await until('the api', async () => (await fetch(`${apiBase}/readyz`)).ok)

  console.log(`stream fan-out: opening ${streamCount} streams over ${QUERIES.length} distinct queries …`)
  for (let i = 0; i < streamCount; i++) {
    streams.push(await follow(`${apiBase}/api/v1/events/topk/stream?${QUERIES[i % QUERIES.length]}`))
  }
  await until('every stream to have its first ranking', async () => streams.every((s) => s.rankings >= 1))
  const ingestBefore = await scrape(ingestBase)
  const batchesBefore = metricValue(ingestBefore, 'rsvp_topk_ingest_batch_size_count') ?? 0
  const appliedBefore = metricValue(ingestBefore, 'rsvp_topk_ingest_messages_total', 'outcome="applied"') ?? 0
  const apiBefore = await scrape(apiBase)
  const callsBefore = await topkCalls()

  // One yes a tick for a new event each time: it enters every all-time and last-24h top 10 with
  // enough yes, so rankings do change.
  const producer = createRawProducer(config.kafka)
  const startedAt = performance.now()
  for (let i = 0; i < batchCount; i++) {
    const message = {
      rsvp_id: 9_000_000_000 + i,
      mtime: Date.now(),
      response: 'yes',
      guests: 0,
      event: { event_id: `fanout-${i % 5}`, event_name: `fan-out ${i % 5}`, event_url: 'https://example.test/fanout' },
      group: { group_id: 77, group_name: 'fan-out', group_country: 'us', group_topics: [{ urlkey: 'softwaredev' }] },
    }
    await producer.send([
      { topic: run, key: Buffer.from(String(message.rsvp_id)), value: Buffer.from(JSON.stringify(message)) },
    ])
    await sleep(Math.max(0, startedAt + ((i + 1) * 1000) / rate - performance.now()))
  }
  await producer.close()
  await until('the ingest to commit them', async () => {
    const text = await scrape(ingestBase)
    return (
      (metricValue(text, 'rsvp_topk_ingest_messages_total', 'outcome="applied"') ?? 0) >= appliedBefore + batchCount
    )
  })
  // The last notice's computations finish within their interval: wait until they stop moving.
  let last = -1
  for (let now = await topkCalls(); now !== last; now = await topkCalls()) {
    last = now
    await sleep(1000)
  }
  const batches = (metricValue(await scrape(ingestBase), 'rsvp_topk_ingest_batch_size_count') ?? 0) - batchesBefore
  const apiAfter = await scrape(apiBase)
  const computations = ['changed', 'unchanged', 'failed'].reduce(
    (sum, outcome) =>
      sum +
      (metricValue(apiAfter, 'rsvp_topk_topk_stream_computations_total', `outcome="${outcome}"`) ?? 0) -
      (metricValue(apiBefore, 'rsvp_topk_topk_stream_computations_total', `outcome="${outcome}"`) ?? 0),
    0,
  )
  const statements = (await topkCalls()) - callsBefore
  const received = streams.reduce((sum, s) => sum + s.rankings, 0)
  const result = {
    stream_fanout_streams: streamCount,
    stream_fanout_distinct_queries: QUERIES.length,
    stream_fanout_batches: batches,
    stream_fanout_computations: computations,
    stream_fanout_topk_statements: statements,
    stream_fanout_statements_per_batch_per_query: Math.round((statements / batches / QUERIES.length) * 100) / 100,
    stream_fanout_rankings_received: received,
    stream_fanout_k: args.k,
    stream_fanout_api_rss_mb: Math.round(
      (metricValue(apiAfter, 'rsvp_topk_process_resident_memory_bytes') ?? 0) / 2 ** 20,
    ),
    stream_fanout_api_peak_rss_mb: peakRssMb(apiChild?.pid),
  }
  console.log(
    `stream fan-out: ${streamCount} streams over ${QUERIES.length} queries; ${batches} batches committed → ${computations} rankings computed, ${statements} top-k statements in PostgreSQL (${result.stream_fanout_statements_per_batch_per_query} per batch per distinct query), ${received.toLocaleString('en')} rankings received by the clients; api RSS ${result.stream_fanout_api_rss_mb} MB (peak ${result.stream_fanout_api_peak_rss_mb} MB), k=${result.stream_fanout_k}`,
  )
  const file = fileURLToPath(new URL('./results/stream-fanout.json', import.meta.url))
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine() }, null, 2)}\n`)
  console.log('written: bench/results/stream-fanout.json')
} finally {
  for (const stream of streams) stream.close()
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }
  await stats.close()
  await database.drop()
  await deleteTopics(config.kafka, [run, `${run}.dlq`])
}
