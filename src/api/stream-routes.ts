/**
 * The live ranking: `GET /api/v1/events/topk/stream` takes the top-k route's parameters and
 * answers with Server-Sent Events (@fastify/sse): `event: ranking` with the top-k body at once and
 * again whenever the ranking (order, counts or details) changes, at most 4 times a second;
 * `event: status` with the ingest's rate and newest applied RSVP time; a comment every 15 s so
 * proxies keep the connection. Rankings come from the hub (topk-stream-hub.ts), one computation
 * per change per distinct query whatever the number of streams.
 *
 * Bad parameters get the API's 400 before any stream starts; past `maxStreams` open streams a
 * new one gets 503. On shutdown every stream is ended, and clients (EventSource) reconnect.
 */
import { once } from 'node:events'
import { fastifySSE } from '@fastify/sse'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import type { IngestStatus, StatusFeed } from './ingest-status.ts'
import { errorBody, invalidParameter } from './replies.ts'
import { COMMON_ERRORS, errorResponses, TopkQuerySchema } from './schemas.ts'
import { createSharedFrames } from './sse-frames.ts'
import { createStreamWriter, type StreamEvent } from './stream-writer.ts'
import { parseTopkQuery, type RawQuery, type TopkQuery } from './topk-query.ts'
import type { Ranking, TopkStreamHub } from './topk-stream-hub.ts'

export const STREAM_PATH = '/api/v1/events/topk/stream'
/** A stream's client is behind by more than this many bytes: it is ended rather than buffered for. */
const MAX_UNSENT_BYTES = 4 * 2 ** 20
/** A client that takes no write for this long (a full socket buffer) has its stream ended. */
const MAX_BLOCKED_MS = 60_000
/** Sent before the first event: how long EventSource waits before reconnecting, in ms. */
const RECONNECT_MS = 1000
// A block with only a retry field sets the reconnection time and dispatches no event.
const RECONNECT_FRAME = Buffer.from(`retry: ${RECONNECT_MS}\n\n`)

/**
 * Writes one event's bytes to the stream's socket, after the reconnection time when it is the
 * first; resolves once the socket took them (after a drain when its buffer was full). Rejects
 * when the client has left. Bypasses @fastify/sse's send(), which formats the data again for each
 * stream (sse-frames.ts says why), but keeps its headers, heartbeat and close.
 */
async function writeFrame(reply: FastifyReply, frame: StreamEvent['data'], first: boolean): Promise<void> {
  if (!reply.sse.isConnected) throw new Error('the client has left')
  reply.sse.sendHeaders()
  if (first) reply.raw.write(RECONNECT_FRAME)
  if (reply.raw.write(frame)) return
  // A client that leaves while its socket is full sends no 'drain' (nor, always, an 'error').
  const left = new AbortController()
  try {
    await Promise.race([
      once(reply.raw, 'drain', { signal: left.signal }),
      once(reply.raw, 'close', { signal: left.signal }).then(() => {
        throw new Error('the client has left')
      }),
    ])
  } finally {
    left.abort()
  }
}

export interface StreamRoutesOptions {
  readonly hub: TopkStreamHub<TopkQuery>
  readonly status: StatusFeed
  /** streams open at once; one more gets 503 */
  readonly maxStreams: number
  /** distinct queries streamed at once (each is computed on every change); a new one beyond gets 503 */
  readonly maxQueries: number
  readonly maxK: number
  readonly maxWindowMs: number
  /** between heartbeat comments, in ms */
  readonly heartbeatMs: number
  readonly now?: () => number
}

const documentOnly = () => () => true

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app: FastifyInstance, options) => {
  await app.register(fastifySSE, { heartbeatInterval: options.heartbeatMs })
  const now = options.now ?? Date.now
  const open = new Set<FastifyReply>()
  // Each ranking and status is formatted once for all the streams that get it (sse-frames.ts).
  const rankingFrame = createSharedFrames('ranking', (ranking: Ranking) => ranking.body)
  const statusFrame = createSharedFrames('status', (status: IngestStatus) => JSON.stringify(status))
  // Fastify's close waits for open responses, and a stream never ends by itself.
  app.addHook('preClose', async () => {
    for (const reply of open) {
      // A stream still waiting for its first ranking has sent nothing: without its headers its
      // end would be an empty 200, which EventSource takes as a failure and does not retry, where
      // an event stream that ends makes it reconnect (to another process).
      if (reply.sse.isConnected) reply.sse.sendHeaders()
      reply.sse.close()
    }
  })

  app.get(
    STREAM_PATH,
    {
      // Any Accept is served (curl sends */*); the handler answers errors as JSON before streaming.
      // Events are written as bytes formatted once for every stream (writeFrame), not by send().
      sse: { kind: 'manual' },
      config: { streaming: true },
      schema: {
        summary: 'The top k events, live (Server-Sent Events)',
        description:
          'The top-k parameters; `event: ranking` carries the same body as /api/v1/events/topk, first at once, then on each change of the ranking (at most 4 a second); `event: status` carries {ingest_rate_per_s, newest_applied_mtime}; a comment every 15 s keeps the connection.',
        querystring: TopkQuerySchema,
        produces: ['text/event-stream'],
        response: {
          200: { description: 'a stream of server-sent events', content: { 'text/event-stream': { schema: {} } } },
          ...errorResponses(...COMMON_ERRORS),
        },
      },
      validatorCompiler: documentOnly,
    },
    async (request, reply) => {
      const parsed = parseTopkQuery(request.query as RawQuery, {
        maxK: options.maxK,
        maxWindowMs: options.maxWindowMs,
        now: now(),
      })
      if (!parsed.ok) return invalidParameter(reply, parsed.error)
      // HEAD: the headers a stream would have, and no stream.
      if (request.method === 'HEAD') {
        return (reply as FastifyReply)
          .code(200)
          .header('content-type', 'text/event-stream')
          .header('cache-control', 'no-cache')
          .send()
      }
      // A fixed window's `to` defaults to now when parsed: streams that asked the same thing share.
      const key = JSON.stringify(parsed.query)
      const refusal =
        open.size >= options.maxStreams
          ? `too many open streams (TOPK_STREAMS_MAX ${options.maxStreams}); try again later`
          : !options.hub.has(key) && options.hub.size().queries >= options.maxQueries
            ? `too many distinct queries streamed (TOPK_STREAM_QUERIES_MAX ${options.maxQueries}); follow one already streamed, or try again later`
            : undefined
      if (refusal !== undefined) {
        return (reply as FastifyReply).code(503).header('retry-after', '5').send(errorBody('unavailable', refusal))
      }
      /** set once the connection closed (the client left, or the stream was ended) */
      let closed = false
      const writer = createStreamWriter({
        write: (event, first) => writeFrame(reply, event.data, first),
        unsentBytes: () => reply.raw.writableLength,
        close: (reason) => {
          // A write fails when the client has just left: that is no news, and could be a storm.
          if (closed || reply.raw.destroyed) request.log.debug({ reason }, 'the client of a stream left')
          else request.log.warn({ reason }, 'ending the stream of a client that fell behind')
          reply.sse.close()
        },
        maxUnsentBytes: MAX_UNSENT_BYTES,
        maxBlockedMs: MAX_BLOCKED_MS,
      })
      const subscription = options.hub.subscribe(key, parsed.query, (ranking: Ranking) =>
        writer.offer('ranking', rankingFrame(ranking), ranking.version),
      )
      let unsubscribeStatus = () => {}
      open.add(reply)
      reply.sse.keepAlive()
      // Registered before anything is awaited: a client gone meanwhile still ends its subscriptions.
      reply.sse.onClose(() => {
        closed = true
        open.delete(reply)
        subscription.unsubscribe()
        unsubscribeStatus()
      })
      let first: Ranking
      try {
        first = await options.hub.ranking(key)
      } catch (error) {
        open.delete(reply)
        subscription.unsubscribe()
        throw error
      }
      // The stream was closed while the first ranking was computed (the client left, or the server
      // is closing): onClose has run, and whatever were added now (the status feed's listener)
      // would never be removed.
      if (closed) return
      writer.offer('ranking', rankingFrame(first), first.version)
      writer.offer('status', statusFrame(options.status.current()))
      unsubscribeStatus = options.status.subscribe((status) => writer.offer('status', statusFrame(status)))
    },
  )
}
