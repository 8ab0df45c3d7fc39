import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'

import { type GeneratedMessage, generateStream } from '../../src/producer/generator.ts'
import { createRandom } from '../../src/producer/random.ts'
import { connectRedisAdmin, freePort, stackConfig } from '../helpers.ts'
import { computeExpected, type Expected, type ExpectedRank, topK } from '../support/contract-oracle.ts'
import { get, metricValue, type Reply, waitFor } from '../support/http.ts'
import { assertConverges, createIngestFixture, produce, ROOT, startCommand } from '../support/ingest-harness.ts'

const HOUR = 3_600_000
const DAY = 86_400_000

/** The oracle restricted to RSVPs of the events `keep` accepts (a filter on event details). */
function only(expected: Expected, keep: (eventId: string) => boolean): Pick<Expected, 'current'> {
  return { current: new Map([...expected.current].filter(([, version]) => keep(version.eventId))) }
}

function ranksOf(body: Reply): ExpectedRank[] {
  return body.events.map((event: Reply) => ({
    eventId: event.event_id,
    yes: event.yes_rsvps,
    attendees: event.attendees,
  }))
}

async function assertTopk(base: string, query: string, want: ExpectedRank[], k: number): Promise<void> {
  const { status, body, text } = await get(base, `/api/v1/events/topk?${query}`)
  assert.equal(status, 200, `${query}: ${text}`)
  assert.equal(body.k, k)
  assert.deepEqual(ranksOf(body), want, query)
  assert.deepEqual(
    body.events.map((event: Reply) => event.rank),
    want.map((_, index) => index + 1),
  )
}

test('rsvp-topk serve: top k and event details as the contract says, through bad input and a Redis node going away', async (t) => {
  const fixture = await createIngestFixture(t)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const start = Math.floor((Date.now() - 3 * DAY) / HOUR) * HOUR
  const messages: GeneratedMessage[] = [
    ...generateStream({
      count: 8000,
      seed: 424242,
      events: 160,
      groups: 40,
      countries: 4,
      topics: 12,
      startMtime: start,
      spanDays: 3,
      invalidShare: 0.01,
    }),
  ]
  const service = await startCommand(fixture, 'serve', { HTTP_PORT: String(port) })
  await produce(fixture, messages)
  await assertConverges(fixture, messages)
  await waitFor('/readyz', async () => ((await get(base, '/readyz')).status === 200 ? true : undefined))
  const expected = computeExpected(messages.map((m) => m.value))
  assert.equal(expected.ambiguous.events.size + expected.ambiguous.groups.size, 0, 'the stream has one answer')
  const groupOf = (eventId: string) => {
    const groupId = expected.events.get(eventId)?.groupId
    return groupId === undefined ? undefined : expected.groups.get(groupId)
  }

  await t.test('top k all-time, for several k, equals the contract', async () => {
    for (const k of [1, 3, 10, 1000]) await assertTopk(base, `k=${k}`, topK(expected, k), k)
    await assertTopk(base, '', topK(expected, 10), 10)
    assert.ok(topK(expected, 1000).length < 1000, 'k above the number of events gives fewer entries')
  })

  await t.test('top k on each date equals the contract', async () => {
    for (let day = start - DAY; day <= start + 4 * DAY; day += DAY) {
      const date = new Date(day).toISOString().slice(0, 10)
      await assertTopk(base, `k=25&date=${date}`, topK(expected, 25, { day: date }), 25)
    }
  })

  await t.test('top k in windows (ISO-8601 and epoch ms, any alignment) equals the contract', async () => {
    const random = createRandom(99)
    for (let trial = 0; trial < 25; trial++) {
      const from = start - HOUR + random.int(0, 3 * DAY)
      const to = from + 1 + random.int(0, random.chance(0.5) ? 3 * HOUR : 2 * DAY)
      const fromText = random.chance(0.5) ? new Date(from).toISOString() : String(from)
      const query = `k=30&from=${encodeURIComponent(fromText)}&to=${to}`
      await assertTopk(base, query, topK(expected, 30, { from, to }), 30)
    }
    const midpoint = start + 36 * HOUR
    await assertTopk(base, `k=40&from=${midpoint}`, topK(expected, 40, { from: midpoint }), 40)
    // Without to, a window ends now; every generated RSVP is older than that.
    assert.deepEqual(topK(expected, 40, { from: midpoint }), topK(expected, 40, { from: midpoint, to: Date.now() }))
  })

  await t.test('each filter (country in any case, city, topic, upcoming) equals the contract', async () => {
    const countries = new Set([...expected.groups.values()].map((g) => g.country).filter((c) => c !== undefined))
    assert.ok(countries.size >= 2)
    for (const country of countries) {
      const want = topK(
        only(expected, (id) => groupOf(id)?.country === country),
        50,
      )
      assert.ok(want.length > 0)
      await assertTopk(base, `k=50&country=${country.toUpperCase()}`, want, 50)
    }
    const cities = [...new Set([...expected.groups.values()].map((g) => g.city))].slice(0, 4)
    for (const city of cities) {
      assert.ok(city !== undefined)
      const want = topK(
        only(expected, (id) => groupOf(id)?.city?.toLowerCase() === city.toLowerCase()),
        50,
      )
      await assertTopk(base, `k=50&city=${encodeURIComponent(city.toLowerCase())}`, want, 50)
    }
    const topics = [...new Set([...expected.groups.values()].flatMap((g) => g.topics.map((topic) => topic.urlkey)))]
    for (const topic of topics.slice(0, 4)) {
      const want = topK(
        only(expected, (id) => groupOf(id)?.topics.some((x) => x.urlkey === topic) ?? false),
        50,
      )
      assert.ok(want.length > 0)
      await assertTopk(base, `k=50&topic=${encodeURIComponent(topic)}`, want, 50)
    }
    const now = Date.now()
    const upcoming = topK(
      only(expected, (id) => (expected.events.get(id)?.time ?? 0) > now),
      200,
    )
    assert.ok(
      upcoming.length > 0 && upcoming.length < topK(expected, 200).length,
      'some events are upcoming, some past',
    )
    await assertTopk(base, 'k=200&upcoming=true', upcoming, 200)
    await assertTopk(base, 'k=200&upcoming=false', topK(expected, 200), 200)
    const [country] = countries
    const date = new Date(start + DAY).toISOString().slice(0, 10)
    await assertTopk(
      base,
      `k=20&date=${date}&country=${country}`,
      topK(
        only(expected, (id) => groupOf(id)?.country === country),
        20,
        { day: date },
      ),
      20,
    )
  })

  await t.test('event details in top k and from /events/{id} are those of the newest message', async () => {
    const { body } = await get(base, '/api/v1/events/topk?k=1000')
    for (const event of body.events) {
      const want = expected.events.get(event.event_id)
      assert.ok(want)
      const group = want.groupId === undefined ? undefined : expected.groups.get(want.groupId)
      const venue = want.venueId === undefined ? undefined : expected.venues.get(want.venueId)
      assert.equal(event.name, want.name ?? null)
      assert.equal(event.url, want.url ?? null)
      assert.equal(event.time, want.time === undefined ? null : new Date(want.time).toISOString())
      assert.deepEqual(
        event.group,
        group && {
          id: want.groupId,
          name: group.name ?? null,
          urlname: group.urlname ?? null,
          city: group.city ?? null,
          country: group.country ?? null,
        },
      )
      assert.deepEqual(
        event.venue,
        venue === undefined
          ? null
          : { id: want.venueId, name: venue.name ?? null, lat: venue.lat ?? null, lon: venue.lon ?? null },
      )
    }
    for (const event of body.events.slice(0, 5)) {
      const one = await get(base, `/api/v1/events/${encodeURIComponent(event.event_id)}`)
      assert.equal(one.status, 200)
      const group = groupOf(event.event_id)
      assert.deepEqual(one.body, {
        event_id: event.event_id,
        name: event.name,
        url: event.url,
        time: event.time,
        yes_rsvps: event.yes_rsvps,
        attendees: event.attendees,
        group: event.group && { ...event.group, topics: group?.topics },
        venue: event.venue,
      })
      const info = await get(base, `/api/v1/events/info?event_id=${encodeURIComponent(event.event_id)}`)
      assert.deepEqual(info.body, one.body)
    }
    for (const path of ['/api/v1/events/no-such-event', '/api/v1/events/info?event_id=no-such-event']) {
      const missing = await get(base, path)
      assert.equal(missing.status, 404)
      assert.equal(missing.body.error.code, 'not_found')
      assert.match(missing.body.error.message, /no-such-event/)
    }
    const noId = await get(base, '/api/v1/events/info')
    assert.equal(noId.status, 400)
    assert.equal(noId.body.error.parameter, 'event_id')
  })

  await t.test('bad input gets 400 with the error shape; random query strings never get a 5xx', async () => {
    const cases: Array<[string, string]> = [
      ['k=0', 'k'],
      ['k=-1', 'k'],
      ['k=1.5', 'k'],
      ['k=abc', 'k'],
      ['k=', 'k'],
      ['k=1000000000000000000000000000000', 'k'],
      ['k=1001', 'k'],
      ['k=5&k=5', 'k'],
      ['date=2021-02-30', 'date'],
      ['date=2021-13-01', 'date'],
      ['from=2021-03-02&to=2021-03-01', 'from'],
      ['from=1000&to=1000', 'from'],
      ['from=not-a-time', 'from'],
      ['from=2021-03-01&to=2021-03-01T25:00:00Z', 'to'],
      ['to=2021-03-01', 'from'],
      ['from=2021-01-01&to=2021-03-01', 'from'],
      ['from=0000-01-01', 'from'],
      ['upcoming=maybe', 'upcoming'],
      ['country=usa', 'country'],
      ['limit=5', 'limit'],
    ]
    for (const [query, parameter] of cases) {
      const { status, body, text } = await get(base, `/api/v1/events/topk?${query}`)
      assert.equal(status, 400, `${query}: ${text}`)
      assert.equal(body.error.code, 'invalid_parameter', query)
      assert.equal(body.error.parameter, parameter, query)
      assert.equal(typeof body.error.message, 'string')
    }
    assert.deepEqual((await get(base, '/api/v1/events/topk?k=0')).body, {
      error: { code: 'invalid_parameter', parameter: 'k', message: 'k must be an integer from 1 to 1000' },
    })
    const oversized = await get(base, `/api/v1/events/topk?city=${'x'.repeat(100_000)}`)
    assert.ok(oversized.status >= 400 && oversized.status < 500, `oversized: ${oversized.status}`)

    const random = createRandom(5150)
    const keys = [
      'k',
      'date',
      'from',
      'to',
      'country',
      'city',
      'topic',
      'upcoming',
      'x',
      '',
      '__proto__',
      'constructor',
      'k[]',
      '%',
      '%zz',
      'ü',
    ]
    const values = [
      '',
      '0',
      '1',
      '10',
      '-5',
      '1e3',
      '99999999999999999999',
      'true',
      'false',
      'us',
      '2021-03-01',
      '2021-03-01T10:00:00Z',
      '%',
      '%00',
      '%ff',
      '%E2%82',
      '日本',
      '🎉',
      "'; DROP TABLE events; --",
      '"',
      '\\',
      'a'.repeat(300),
    ]
    for (let trial = 0; trial < 300; trial++) {
      const parts: string[] = []
      for (let i = random.int(0, 5); i > 0; i--) {
        const key = random.pick(keys)
        const value = random.pick(values)
        parts.push(
          random.chance(0.1)
            ? encodeURIComponent(key)
            : random.chance(0.5)
              ? `${key}=${value}`
              : `${key}=${encodeURIComponent(value)}`,
        )
      }
      const query = parts.join(random.chance(0.1) ? '&&' : '&')
      const { status, body, text } = await get(
        base,
        `/api/v1/events/topk?${query.replace(/[^\x21-\x7e]/gu, encodeURIComponent)}`,
      )
      assert.ok(status < 500, `${query}: ${status} ${text}`)
      if (status === 400) assert.equal(typeof body.error.message, 'string', query)
    }
  })

  await t.test('health, readiness, OpenAPI, docs and metrics answer', async () => {
    assert.deepEqual((await get(base, '/healthz')).body, { status: 'ok' })
    assert.deepEqual((await get(base, '/readyz')).body, {
      status: 'ready',
      dependencies: { postgres: { status: 'up' }, kafka: { status: 'up' } },
    })
    const openapi = await get(base, '/openapi.json')
    assert.equal(openapi.status, 200)
    assert.ok(openapi.body.paths['/api/v1/events/topk'])
    assert.ok(openapi.body.paths['/api/v1/events/{event_id}'])
    const docs = await fetch(`${base}/docs`)
    assert.equal(docs.status, 200)
    assert.match(await docs.text(), /<html/i)
    const metrics = (await get(base, '/metrics')).text
    assert.match(
      metrics,
      /rsvp_topk_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/events\/topk"[^}]*status="200"/,
    )
    assert.match(metrics, /rsvp_topk_http_request_duration_seconds_count\{[^}]*status="400"/)
    // Repeated details come from the process's own tier; the Redis ring sees its first lookups.
    assert.ok((metricValue(metrics, 'rsvp_topk_cache_lookups_total', 'result="local"') ?? 0) > 0, 'local hits counted')
    assert.ok((metricValue(metrics, 'rsvp_topk_cache_lookups_total', 'result="miss"') ?? 0) > 0, 'cache misses counted')
    assert.match(metrics, /rsvp_topk_ingest_messages_total\{outcome="applied"\}/)
  })

  await t.test('a newer message with new details shows at once, not after the cache TTL', async () => {
    const [top] = topK(expected, 1)
    assert.ok(top)
    const before = await get(base, `/api/v1/events/${encodeURIComponent(top.eventId)}`)
    await get(base, `/api/v1/events/${encodeURIComponent(top.eventId)}`)
    const newest = Math.max(...[...expected.current.values()].map((v) => v.mtime))
    const renamed = `Renamed ${before.body.name} ✨`
    const message = {
      rsvp_id: 9_000_000_001,
      mtime: newest + 1000,
      response: 'no',
      guests: 0,
      event: {
        event_id: top.eventId,
        event_name: renamed,
        event_url: 'https://example.test/renamed',
        time: Date.now() + DAY,
      },
    }
    await produce(fixture, [{ key: String(message.rsvp_id), value: JSON.stringify(message) }])
    const after = await waitFor('the new name', async () => {
      const reply = await get(base, `/api/v1/events/${encodeURIComponent(top.eventId)}`)
      return reply.body.name === renamed ? reply.body : undefined
    })
    assert.equal(after.url, 'https://example.test/renamed')
    assert.equal(after.group, null, 'the newest message named no group')
    const { body } = await get(base, '/api/v1/events/topk?k=1')
    assert.equal(body.events[0].name, renamed)
  })

  await t.test('one Redis node stopped: answers stay 200 and right; restarted, it rejoins', async () => {
    const ring = stackConfig().redis.ring
    const node = ring[1]
    assert.ok(node)
    t.after(() => execFileSync('./dev.sh', ['up', 'redis'], { cwd: ROOT, stdio: 'ignore' }))
    const admin = await connectRedisAdmin(node)
    admin.on('error', () => {})
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => {})
    admin.disconnect()
    const member = `node="${node.id}"`
    // Right answers even before the ring notices the node is gone.
    const { body } = await get(base, '/api/v1/events/topk?k=1000')
    assert.deepEqual(ranksOf(body), topK(expected, 1000))
    await waitFor('the node to leave the ring', async () =>
      metricValue((await get(base, '/metrics')).text, 'rsvp_topk_cache_ring_member', member) === 0 ? true : undefined,
    )
    for (let i = 0; i < 3; i++) {
      const again = await get(base, '/api/v1/events/topk?k=50')
      assert.equal(again.status, 200)
      assert.deepEqual(ranksOf(again.body), topK(expected, 50))
      for (const event of again.body.events.slice(1, 10)) {
        assert.equal(event.name, expected.events.get(event.event_id)?.name ?? null)
        const one = await get(base, `/api/v1/events/${encodeURIComponent(event.event_id)}`)
        assert.equal(one.status, 200)
      }
    }
    execFileSync('./dev.sh', ['up', 'redis'], { cwd: ROOT, stdio: 'ignore' })
    await waitFor('the node to rejoin the ring', async () =>
      metricValue((await get(base, '/metrics')).text, 'rsvp_topk_cache_ring_member', member) === 1 ? true : undefined,
    )
    const rejoined = await get(base, '/api/v1/events/topk?k=50')
    assert.equal(rejoined.status, 200)
    assert.deepEqual(ranksOf(rejoined.body), topK(expected, 50))
  })

  service.child.kill('SIGTERM')
  const exit = await service.exited
  assert.equal(exit.code, 0, service.output())
})
