/**
 * The live ranking (GET /api/v1/events/topk/stream) with `ingest` and `api` as separate processes,
 * as they run in production: the api hears of committed batches through PostgreSQL
 * (LISTEN/NOTIFY), computes each distinct query once per change however many streams follow it,
 * and pushes the new ranking. Also its limits, its errors, its end at shutdown, and the history
 * route over the same data.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { get, metricValue, waitFor } from '../support/http.ts'
import { createIngestFixture, type IngestProcess, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'
import { openStream, type SseStream } from '../support/sse-client.ts'

interface Ranking {
  k: number
  events: Array<{ rank: number; event_id: string; yes_rsvps: number; attendees: number; name: string | null }>
}

const MTIME = Date.UTC(2026, 10, 1, 12)

async function metrics(api: IngestProcess): Promise<string> {
  return (await get(api.base, '/metrics')).text
}

test('a ranking change committed by a separate ingest process reaches the stream', async (t) => {
  const fixture = await createIngestFixture(t, 3)
  const ingest = await startCommand(fixture, 'ingest')
  const api = await startCommand(fixture, 'api')
  await Promise.all([ingest.ready(), api.ready()])

  const stream = await openStream(`${api.base}/api/v1/events/topk/stream?k=3`)
  t.after(() => stream.close())
  assert.equal(stream.status, 200)
  // The first event is the current ranking: nothing yet.
  await stream.waitForEvent<Ranking>('ranking', (r) => r.k === 3 && r.events.length === 0)
  assert.equal(stream.events[0]?.event, 'ranking', 'the ranking comes first')

  await produce(fixture, [
    rsvpMessage({ rsvpId: 1, eventId: 'live-a', mtime: MTIME, eventName: 'Live A' }),
    rsvpMessage({ rsvpId: 2, eventId: 'live-a', mtime: MTIME + 1, eventName: 'Live A' }),
    rsvpMessage({ rsvpId: 3, eventId: 'live-b', mtime: MTIME + 2, guests: 2 }),
  ])
  const moved = await stream.waitForEvent<Ranking>('ranking', (r) => r.events.length === 2)
  assert.deepEqual(
    moved.events.map((e) => [e.rank, e.event_id, e.yes_rsvps, e.attendees]),
    [
      [1, 'live-a', 2, 2],
      [2, 'live-b', 1, 3],
    ],
  )
  // Details of the newest message naming the event (rule 5).
  assert.equal(moved.events[0]?.name, 'Live A')
  // The status says what was applied, from the ingest's notices.
  await stream.waitForEvent<{ newest_applied_mtime: string | null }>(
    'status',
    (s) => s.newest_applied_mtime === new Date(MTIME + 2).toISOString(),
  )

  // A flip takes live-a's two yes away: the order changes on the stream.
  await produce(fixture, [
    rsvpMessage({ rsvpId: 1, eventId: 'live-a', mtime: MTIME + 10, response: 'no' }),
    rsvpMessage({ rsvpId: 2, eventId: 'live-a', mtime: MTIME + 11, response: 'no' }),
  ])
  const flipped = await stream.waitForEvent<Ranking>('ranking', (r) => r.events[0]?.event_id === 'live-b')
  assert.deepEqual(
    flipped.events.map((e) => e.event_id),
    ['live-b'],
  )
  // Each distinct ranking was sent once: no event repeats the one before it.
  const rankings = stream.events.filter((e) => e.event === 'ranking').map((e) => e.data)
  for (let i = 1; i < rankings.length; i++) assert.notEqual(rankings[i], rankings[i - 1])

  // The same data through the history route: live-b's hour holds its yes and attendees.
  const from = new Date(MTIME - 3_600_000).toISOString()
  const to = new Date(MTIME + 3_600_000).toISOString()
  const history = await get(api.base, `/api/v1/events/live-b/history?from=${from}&to=${to}&step=hour`)
  assert.equal(history.status, 200, history.text)
  assert.deepEqual(
    history.body.points.map((p: { start: string; yes_rsvps: number; attendees: number }) => [
      p.start,
      p.yes_rsvps,
      p.attendees,
    ]),
    [
      [new Date(MTIME - 3_600_000).toISOString(), 0, 0],
      [new Date(MTIME).toISOString(), 1, 3],
    ],
  )
  const flippedHistory = await get(api.base, `/api/v1/events/live-a/history?from=${from}&to=${to}&step=day`)
  assert.equal(flippedHistory.status, 200)
  assert.deepEqual(
    flippedHistory.body.points.map((p: { yes_rsvps: number }) => p.yes_rsvps),
    [0],
  )
  assert.equal((await get(api.base, '/api/v1/events/no-such/history')).status, 404)
})

test('1,000 streams of one query cost one computation per change, not one per stream', async (t) => {
  const fixture = await createIngestFixture(t, 3)
  const ingest = await startCommand(fixture, 'ingest')
  const api = await startCommand(fixture, 'api')
  await Promise.all([ingest.ready(), api.ready()])
  await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'fan-a', mtime: MTIME })])
  await waitFor('the first RSVP to be counted', async () => {
    const reply = await get(api.base, '/api/v1/events/fan-a')
    return reply.status === 200 && reply.body.yes_rsvps === 1 ? true : undefined
  })

  const queries = ['k=5', 'k=5&country=us', 'k=2&topic=softwaredev']
  const streams: SseStream[] = []
  t.after(() => {
    for (const stream of streams) stream.close()
  })
  for (let i = 0; i < 1000; i++) {
    streams.push(await openStream(`${api.base}/api/v1/events/topk/stream?${queries[i % queries.length]}`))
  }
  assert.ok(streams.every((s) => s.status === 200))
  await waitFor('every stream to have its first ranking', async () =>
    streams.every((s) => (s.last('ranking') as Ranking | undefined)?.events[0]?.event_id === 'fan-a')
      ? true
      : undefined,
  )
  const before = await metrics(api)
  assert.equal(metricValue(before, 'rsvp_topk_topk_streams_open'), 1000)
  assert.equal(metricValue(before, 'rsvp_topk_topk_stream_queries'), queries.length)
  const computed = (text: string) =>
    ['changed', 'unchanged', 'failed'].reduce(
      (sum, outcome) =>
        sum + (metricValue(text, 'rsvp_topk_topk_stream_computations_total', `outcome="${outcome}"`) ?? 0),
      0,
    )

  // One RSVP, one batch, one notice: each distinct query is computed again, once.
  await produce(fixture, [
    rsvpMessage({ rsvpId: 2, eventId: 'fan-b', mtime: MTIME + 1 }),
    rsvpMessage({ rsvpId: 3, eventId: 'fan-b', mtime: MTIME + 2 }),
  ])
  await waitFor('every stream to show the new leader', async () =>
    streams.every((s) => (s.last('ranking') as Ranking | undefined)?.events[0]?.event_id === 'fan-b')
      ? true
      : undefined,
  )
  const after = await metrics(api)
  const computations = computed(after) - computed(before)
  // The two RSVPs may come in one batch or two (two notices); never 1,000 computations.
  assert.ok(
    computations >= queries.length && computations <= 2 * queries.length,
    `${computations} computations for ${queries.length} distinct queries followed by 1,000 streams`,
  )
})

test('stream limits, errors and shutdown', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const api = await startCommand(fixture, 'api', { TOPK_STREAMS_MAX: '2' })
  await api.ready()

  const bad = await openStream(`${api.base}/api/v1/events/topk/stream?k=0`)
  assert.equal(bad.status, 400)
  assert.deepEqual(bad.errorBody, {
    error: { code: 'invalid_parameter', parameter: 'k', message: 'k must be an integer from 1 to 1000' },
  })
  const clash = await openStream(`${api.base}/api/v1/events/topk/stream?last=1h&date=2026-11-01`)
  assert.equal(clash.status, 400)
  assert.equal((clash.errorBody as { error: { parameter: string } }).error.parameter, 'last')

  const first = await openStream(`${api.base}/api/v1/events/topk/stream`)
  const second = await openStream(`${api.base}/api/v1/events/topk/stream?last=24h`)
  await first.waitForEvent<Ranking>('ranking', () => true)
  await second.waitForEvent<Ranking>('ranking', () => true)
  const third = await openStream(`${api.base}/api/v1/events/topk/stream`)
  assert.equal(third.status, 503)
  assert.equal((third.errorBody as { error: { code: string } }).error.code, 'unavailable')

  // A closed stream frees its place.
  second.close()
  await waitFor('the closed stream to be counted out', async () =>
    metricValue(await metrics(api), 'rsvp_topk_topk_streams_open') === 1 ? true : undefined,
  )
  const again = await openStream(`${api.base}/api/v1/events/topk/stream`)
  assert.equal(again.status, 200)

  // HEAD answers the headers of a stream, and opens none.
  const head = await fetch(`${api.base}/api/v1/events/topk/stream?k=3`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/)
  assert.equal(metricValue(await metrics(api), 'rsvp_topk_topk_streams_open'), 2, 'first and again; HEAD opened none')
  // The refusal is an answer like any other: counted in the request metrics.
  assert.ok(
    (metricValue(
      await metrics(api),
      'rsvp_topk_http_request_duration_seconds_count',
      'route="/api/v1/events/topk/stream",method="GET",status="503"',
    ) ?? 0) >= 1,
  )

  // Shutdown ends the open streams, and the process exits cleanly.
  api.child.kill('SIGTERM')
  await Promise.all([first.ended, again.ended])
  const exit = await api.exited
  assert.equal(exit.code, 0, api.output().slice(-2000))
})

test('distinct streamed queries are bounded; a stream of a query already followed is not', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const api = await startCommand(fixture, 'api', { TOPK_STREAM_QUERIES_MAX: '2' })
  await api.ready()
  const streams = [
    await openStream(`${api.base}/api/v1/events/topk/stream?k=1`),
    await openStream(`${api.base}/api/v1/events/topk/stream?k=2`),
  ]
  t.after(() => {
    for (const stream of streams) stream.close()
  })
  const third = await openStream(`${api.base}/api/v1/events/topk/stream?k=3`)
  assert.equal(third.status, 503)
  assert.match((third.errorBody as { error: { message: string } }).error.message, /TOPK_STREAM_QUERIES_MAX 2/)
  const again = await openStream(`${api.base}/api/v1/events/topk/stream?k=2`)
  streams.push(again)
  assert.equal(again.status, 200, 'a query already streamed is shared, not refused')
  await again.waitForEvent('ranking', () => true)
})

test('an api stopped right after it starts listening exits cleanly', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const api = await startCommand(fixture, 'api', { LOG_LEVEL: 'info' })
  // Stopped as soon as HTTP listens: start-up is still migrating and the LISTEN connection may be
  // connecting, which close() must end rather than wait on.
  await waitFor('HTTP to listen', async () => (api.output().includes('HTTP listening') ? true : undefined))
  api.child.kill('SIGTERM')
  const exit = await api.exited
  assert.equal(exit.code, 0, api.output().slice(-3000))
})

test('a LISTEN connection lost again and again is listened on again each time without a growing backoff, and no stale details stay', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  // Both TTLs long: only the notices can bring new details to the api.
  const env = { TOPK_CACHE_MS: '0', REDIS_TTL_SECONDS: '3600', DETAILS_LOCAL_TTL_SECONDS: '3600' }
  const ingest = await startCommand(fixture, 'ingest', env)
  const api = await startCommand(fixture, 'api', env)
  await Promise.all([ingest.ready(), api.ready()])
  const listener = async (other?: number): Promise<number | undefined> => {
    const { rows } = await fixture.db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN rsvp_topk_batches' AND state = 'idle'",
    )
    return rows.map((row) => row.pid).find((pid) => pid !== other)
  }
  const eventName = async () => (await get(api.base, '/api/v1/events/relisten'))?.body?.name

  await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'relisten', mtime: MTIME, eventName: 'Name 0' })])
  await waitFor('the event', async () => ((await eventName()) === 'Name 0' ? true : undefined))
  let pid = await waitFor('the LISTEN connection', () => listener())
  for (let round = 1; round <= 5; round++) {
    // The service's own role may end its own backends: no superuser needed.
    await fixture.db.query('SELECT pg_terminate_backend($1)', [pid])
    pid = await waitFor(`LISTEN again (round ${round})`, () => listener(pid))
    await produce(fixture, [
      rsvpMessage({ rsvpId: 1 + round, eventId: 'relisten', mtime: MTIME + round, eventName: `Name ${round}` }),
    ])
    await waitFor(`the name of round ${round}`, async () =>
      (await eventName()) === `Name ${round}` ? true : undefined,
    )
  }
  // Each loss was taken up at once: no attempt of listening failed, so none waited a backoff.
  const lines = api.output().split('\n')
  assert.equal(lines.filter((line) => line.includes('the LISTEN connection ended; listening again')).length, 5)
  assert.deepEqual(
    lines.filter((line) => line.includes('listening for committed batches failed; retrying')),
    [],
  )
})
