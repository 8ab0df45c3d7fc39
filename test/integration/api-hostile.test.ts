/**
 * Regressions of issue 11 and a fuzz test: hostile requests against a real `rsvp-topk serve` get
 * a 4xx in the API's error shape, never a 5xx, and never an error-level log line.
 */
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { test } from 'node:test'
import { createRandom } from '../../src/producer/random.ts'
import { get, type Reply, waitFor } from '../support/http.ts'
import { createIngestFixture, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'

/** A request with the path sent exactly as given (fetch would normalise it), and any method. */
function raw(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: Reply; text: string; headers: Record<string, unknown> }> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => {
          let body: Reply
          try {
            body = JSON.parse(text)
          } catch {
            body = undefined
          }
          resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers })
        })
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Sends `request` as is on a new connection and returns all the server wrote back. */
async function rawBytes(base: string, request: string): Promise<string> {
  const url = new URL(base)
  const socket = connect(Number(url.port), url.hostname)
  socket.end(request)
  let text = ''
  socket.setEncoding('utf8')
  for await (const chunk of socket) text += chunk
  return text
}

function assertErrorShape(reply: { status: number; body: Reply; text: string }, what: string): void {
  assert.equal(typeof reply.body?.error?.code, 'string', `${what}: ${reply.status} ${reply.text.slice(0, 300)}`)
  assert.equal(typeof reply.body.error.message, 'string', what)
  assert.deepEqual(
    Object.keys(reply.body.error).filter((key) => !['code', 'parameter', 'message'].includes(key)),
    [],
    `${what}: only code, parameter and message`,
  )
}

test('hostile requests get a 4xx in the error shape, never a 5xx or an error-level log line', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const service = await startCommand(fixture, 'serve', { LOG_LEVEL: 'info' })
  await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'E1' }), rsvpMessage({ rsvpId: 2, eventId: 'E2' })])
  await service.ready()
  const base = service.base

  await t.test('the inputs of issue 11 get 400 with the error shape', async () => {
    for (const [path, parameter] of [
      ['/api/v1/events/topk?city=%00', 'city'],
      ['/api/v1/events/topk?topic=%00', 'topic'],
      ['/api/v1/events/%00', 'event_id'],
      ['/api/v1/events/info?event_id=%00', 'event_id'],
      ['/api/v1/events/topk?city=%FF', 'city'],
      ['/api/v1/events/topk?topic=%ED%A0%80', 'topic'],
    ] as const) {
      const reply = await raw(base, path)
      assert.equal(reply.status, 400, path)
      assertErrorShape(reply, path)
      assert.equal(reply.body.error.parameter, parameter, path)
    }
    // Found by trying the API as a new user: each of these answered otherwise (200, 414, a year -1).
    for (const [path, parameter, message] of [
      ['/api/v1/events/E1?x=1', 'x', /unknown parameter "x"; this route takes none/],
      ['/api/v1/events/E1/history?x=1', 'x', /unknown parameter "x"/],
      [`/api/v1/events/${'a'.repeat(1001)}`, 'event_id', /event_id must be at most 255 characters/],
      [`/api/v1/events/${'a'.repeat(3000)}`, 'event_id', /event_id must be at most 255 characters/],
    ] as const) {
      const reply = await raw(base, path)
      assert.equal(reply.status, 400, `${path.slice(0, 60)}: ${reply.text.slice(0, 200)}`)
      assertErrorShape(reply, path)
      assert.equal(reply.body.error.parameter, parameter, path)
      assert.match(reply.body.error.message, message, path)
    }
    // E1's history answers once E1 is counted (404 until then).
    const earliest = await waitFor('the history of E1', async () => {
      const reply = await raw(base, '/api/v1/events/E1/history?to=0000-01-01T00:00:00.001Z')
      return reply.status === 404 ? undefined : reply
    })
    assert.equal(earliest.status, 200, earliest.text.slice(0, 300))
    assert.equal(earliest.body.from, '0000-01-01T00:00:00.000Z', 'the default span stops at year 0000')
    // Node's own answer to a request without Host was a bare 400 with no body.
    const noHost = await rawBytes(base, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert.match(noHost, /^HTTP\/1\.1 400 /)
    assert.match(noHost, /"code":"bad_request","message":"an HTTP\/1\.1 request must have a Host header"/)
    const badUrl = await raw(base, '/api/v1/events/%FF')
    assert.equal(badUrl.status, 400)
    assertErrorShape(badUrl, '/api/v1/events/%FF')
  })

  await t.test('every layer answers in the error shape: 404, 405, 413, 414, 431', async () => {
    const cases: [string, Awaited<ReturnType<typeof raw>>, number][] = [
      ['unknown route', await raw(base, '/no/such/route'), 404],
      ['unknown event', await raw(base, '/api/v1/events/no-such-event'), 404],
      ['POST', await raw(base, '/api/v1/events/topk', { method: 'POST', body: '{}' }), 405],
      ['DELETE', await raw(base, '/api/v1/events/E1', { method: 'DELETE' }), 405],
      // methods fastify does not route by default, which answered 404 on routes that exist
      ['PROPFIND', await raw(base, '/api/v1/events/topk', { method: 'PROPFIND' }), 405],
      ['MKCOL', await raw(base, '/api/v1/events/E1', { method: 'MKCOL' }), 405],
      ['LOCK with a body', await raw(base, '/healthz', { method: 'LOCK', body: '<lockinfo/>' }), 405],
      ['PROPFIND on an unknown route', await raw(base, '/no/such/route', { method: 'PROPFIND' }), 404],
      ['URL over 4 KB', await raw(base, `/api/v1/events/topk?city=${'a'.repeat(5000)}`), 414],
      ['headers over 16 KB', await raw(base, '/healthz', { headers: { 'x-big': 'a'.repeat(20_000) } }), 431],
      [
        'a body where none is taken',
        await raw(base, '/api/v1/events/nope/more', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ a: 'b'.repeat(20_000) }),
        }),
        413,
      ],
    ]
    for (const [what, reply, status] of cases) {
      assert.equal(reply.status, status, `${what}: ${reply.text.slice(0, 200)}`)
      assertErrorShape(reply, what)
    }
    const allowed = await raw(base, '/api/v1/events/topk', { method: 'POST' })
    assert.equal(allowed.headers.allow, 'GET, HEAD, OPTIONS')
    const options = await raw(base, '/api/v1/events/topk', { method: 'OPTIONS' })
    assert.equal(options.status, 204)
    assert.equal(options.headers.allow, 'GET, HEAD, OPTIONS')
    const head = await raw(base, '/api/v1/events/topk?k=1', { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.text, '', 'HEAD has no body')
  })

  await t.test('2,000 generated requests with hostile values in every parameter of every route', async () => {
    const random = createRandom(11)
    const hostile = [
      '%00',
      'a%00b',
      '%FF',
      '%C0%AF',
      '%ED%A0%80',
      '%E4%B8',
      '%zz',
      '%',
      '%%',
      '+',
      '%2B',
      '',
      '%20%20',
      "'%20OR%201%3D1--",
      '%22%3B%20DROP%20TABLE%20events%3B--',
      '__proto__',
      'constructor',
      '%F0%9F%8E%B2',
      '%E6%9D%B1%E4%BA%AC',
      '-1',
      '0',
      '1e400',
      '9223372036854775808',
      '99999999999999999999',
      'NaN',
      'true',
      '2021-02-30',
      '0000-01-01',
      '9999-12-31T23%3A59%3A59.999Z',
      '%5B%5D',
      '%7B%7D',
      '..%2F..%2Fetc%2Fpasswd',
      'a'.repeat(300),
      'a'.repeat(1100),
      '%61'.repeat(400),
    ]
    const pick = () => random.pick(hostile)
    const topkParameters = ['k', 'date', 'from', 'to', 'country', 'city', 'topic', 'upcoming', pick()]
    const paths: (() => string)[] = [
      () => {
        const parts = Array.from({ length: random.int(1, 4) }, () => `${random.pick(topkParameters)}=${pick()}`)
        return `/api/v1/events/topk?${parts.join('&')}`
      },
      () => `/api/v1/events/${pick()}`,
      () => `/api/v1/events/info?event_id=${pick()}${random.chance(0.3) ? `&${pick()}=${pick()}` : ''}`,
      () => `/api/v1/events/topk/${pick()}`,
      () => `/healthz?${pick()}=${pick()}`,
      () => `/readyz?${pick()}`,
      () => `/${pick()}`,
    ]
    const statuses = new Map<number, number>()
    for (let i = 0; i < 2000; i++) {
      const path = (random.pick(paths) as () => string)()
      const method = random.chance(0.1) ? random.pick(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']) : 'GET'
      const reply = await raw(base, path, { method })
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
      assert.ok(reply.status < 500, `${method} ${path}: ${reply.status} ${reply.text.slice(0, 300)}`)
      if (reply.status >= 400 && method !== 'HEAD') assertErrorShape(reply, `${method} ${path}`)
    }
    assert.ok((statuses.get(400) ?? 0) > 100, `many refused: ${JSON.stringify([...statuses])}`)
    assert.ok((statuses.get(200) ?? 0) > 10, `some answered: ${JSON.stringify([...statuses])}`)
  })

  await t.test('and the service logged nothing at error level', async () => {
    const lines = service
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
    const errors = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)
    assert.deepEqual(errors, [])
    // No child logger per request: each warning names its request's id itself.
    const warnings = lines
      .map((line) => JSON.parse(line) as { level: number; component?: string; reqId?: unknown })
      .filter((line) => line.component === 'http' && line.level === 40)
    assert.ok(warnings.length > 0, 'the refused requests were warned about')
    for (const warning of warnings) assert.match(String(warning.reqId), /^req-/, JSON.stringify(warning))
    assert.equal((await get(base, '/healthz')).status, 200)
  })
})
