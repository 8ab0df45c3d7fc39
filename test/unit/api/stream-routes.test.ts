import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Writable } from 'node:stream'
import { describe, type TestContext, test } from 'node:test'
import Fastify from 'fastify'
import pino from 'pino'
import type { IngestStatus, StatusFeed } from '../../../src/api/ingest-status.ts'
import { streamRoutes } from '../../../src/api/stream-routes.ts'
import type { TopkQuery } from '../../../src/api/topk-query.ts'
import { createTopkStreamHub } from '../../../src/api/topk-stream-hub.ts'
import { silentLogger } from '../../helpers.ts'
import { waitFor } from '../../support/http.ts'

/** A status feed that counts its listeners: each open stream holds one, and must give it back. */
function countingStatusFeed() {
  const listeners = new Set<(status: IngestStatus) => void>()
  const feed: StatusFeed = {
    current: () => ({ ingest_rate_per_s: 0, newest_applied_mtime: null }),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => listeners.clear(),
  }
  return { feed, listeners }
}

const waitUntil = (what: string, check: () => boolean) =>
  waitFor(what, async () => (check() ? true : undefined), 10_000)

/**
 * The stream routes on a server of their own, with a real hub whose rankings are computed when the
 * test says so (`pending`), a status feed that counts its listeners, and the log lines kept.
 */
async function streamServer(t: TestContext) {
  const pending: Array<(body: string) => void> = []
  const hub = createTopkStreamHub<TopkQuery>({
    compute: () => new Promise<string>((resolve) => pending.push(resolve)),
    clockDependent: () => false,
    minIntervalMs: 0,
    clockIntervalMs: 60_000,
    retryMs: 1000,
    logger: silentLogger,
  })
  const status = countingStatusFeed()
  const lines: Array<{ level: number; msg: string }> = []
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()))
      done()
    },
  })
  const app = Fastify({ loggerInstance: pino({ level: 'debug' }, logs) })
  await app.register(streamRoutes, {
    hub,
    status: status.feed,
    maxStreams: 10,
    maxQueries: 10,
    maxK: 100,
    maxWindowMs: 7 * 86_400_000,
    heartbeatMs: 15_000,
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      hub.close()
      await app.close()
    })()
    return closed
  }
  t.after(close)
  const { port } = app.server.address() as { port: number }
  return { hub, pending, status, lines, port, close }
}

describe('GET /api/v1/events/topk/stream', () => {
  test('should keep nothing of a client that leaves before its first ranking, and log no warning for it', async (t) => {
    const { hub, pending, status, lines, port } = await streamServer(t)

    const client = request({ host: '127.0.0.1', port, path: '/api/v1/events/topk/stream?k=3' })
    client.on('error', () => {}) // destroyed on purpose below
    client.end()
    await waitUntil('the stream to wait for its first ranking', () => pending.length === 1)
    client.destroy()
    await waitUntil('the stream to be closed', () => hub.size().subscriptions === 0)

    pending[0]?.('{"k":3,"events":[]}')
    await waitUntil('the computation to end', () => hub.size().queries === 0)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(status.listeners.size, 0, 'the status feed holds no listener for the stream that left')
    assert.deepEqual(
      lines.filter((line) => line.level >= 40).map((line) => line.msg),
      [],
      'a client that left is not a client that fell behind',
    )
  })

  test('should send each stream the reconnection time, then the ranking and the status as SSE events', async (t) => {
    const { hub, pending, port } = await streamServer(t)
    const clients: Array<{ text: string; close: () => void }> = []
    t.after(() => {
      for (const client of clients) client.close()
    })
    for (let i = 0; i < 2; i++) {
      const client = { text: '', close: () => {} }
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/events/topk/stream?k=2&city=Z%C3%BCrich' })
      req.on('error', () => {})
      req.on('response', (response) => {
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          client.text += chunk
        })
      })
      req.end()
      client.close = () => req.destroy()
      clients.push(client)
    }
    await waitUntil('both streams to follow the query', () => hub.size().subscriptions === 2)
    assert.equal(pending.length, 1, 'one computation for both')
    pending[0]?.('{"k":2,"events":["Zürich"]}')
    const expected =
      'retry: 1000\n\n' +
      'event: ranking\ndata: {"k":2,"events":["Zürich"]}\n\n' +
      'event: status\ndata: {"ingest_rate_per_s":0,"newest_applied_mtime":null}\n\n'
    await waitUntil('both streams to get the status', () => clients.every((c) => c.text.length >= expected.length))
    assert.deepEqual(
      clients.map((c) => c.text),
      [expected, expected],
    )
  })

  // The timeout only bounds a failure: before the fix, the response never ended.
  test('should end a stream still waiting for its first ranking as an event stream on shutdown', {
    timeout: 60_000,
  }, async (t) => {
    const server = await streamServer(t)
    const response = new Promise<{ status: number | undefined; type: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/api/v1/events/topk/stream?k=3' }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }))
        })
        req.on('error', reject)
        req.end()
      },
    )
    await waitUntil('the stream to wait for its first ranking', () => server.pending.length === 1)
    await server.close()
    // EventSource reconnects after an event stream that ends, not after an empty 200.
    const { status, type, body } = await response
    assert.equal(status, 200)
    assert.equal(type, 'text/event-stream')
    assert.equal(body, '')
  })
})
