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
import { fastifySSE } from '@fastify/sse'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import type { StatusFeed } from './ingest-status.ts'
import { errorBody, invalidParameter } from './replies.ts'
import { COMMON_ERRORS, errorResponses, TopkQuerySchema } from './schemas.ts'
import { parseTopkQuery, type RawQuery, type TopkQuery } from './topk-query.ts'
import type { Ranking, TopkStreamHub } from './topk-stream-hub.ts'

export const STREAM_PATH = '/api/v1/events/topk/stream'
/** A stream's client is behind by more than this many bytes: it is ended rather than buffered for. */
const MAX_UNSENT_BYTES = 4 * 2 ** 20
/** Sent with the first event: how long EventSource waits before reconnecting, in ms. */
const RECONNECT_MS = 1000

export interface StreamRoutesOptions {
  readonly hub: TopkStreamHub<TopkQuery>
  readonly status: StatusFeed
  /** streams open at once; one more gets 503 */
  readonly maxStreams: number
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
  // Fastify's close waits for open responses, and a stream never ends by itself.
  app.addHook('preClose', async () => {
    for (const reply of open) reply.sse.close()
  })

  app.get(
    STREAM_PATH,
    {
      // Any Accept is served (curl sends */*); the handler answers errors as JSON before streaming.
      sse: { kind: 'manual', serializer: (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data)) },
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
      if (open.size >= options.maxStreams) {
        return (reply as FastifyReply)
          .code(503)
          .send(
            errorBody('unavailable', `too many open streams (TOPK_STREAMS_MAX ${options.maxStreams}); try again later`),
          )
      }
      // A fixed window's `to` defaults to now when parsed: streams that asked the same thing share.
      const key = JSON.stringify(parsed.query)
      let sentVersion = 0
      let started = false
      let queue = Promise.resolve()
      // Sends in order; a ranking older than one already sent (computed before it) is skipped.
      const send = (event: string, data: string, version?: number) => {
        if (version !== undefined) {
          if (version <= sentVersion) return
          sentVersion = version
        }
        queue = queue
          .then(async () => {
            if (!reply.sse.isConnected) return
            if (reply.raw.writableLength > MAX_UNSENT_BYTES) {
              request.log.warn('a stream client fell too far behind; ending its stream')
              reply.sse.close()
              return
            }
            const retry = started ? {} : { retry: RECONNECT_MS }
            started = true
            await reply.sse.send({ event, data, ...retry })
          })
          .catch(() => {})
      }
      const subscription = options.hub.subscribe(key, parsed.query, (ranking: Ranking) =>
        send('ranking', ranking.body, ranking.version),
      )
      let unsubscribeStatus = () => {}
      open.add(reply)
      reply.sse.keepAlive()
      // Registered before anything is awaited: a client gone meanwhile still ends its subscriptions.
      reply.sse.onClose(() => {
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
      send('ranking', first.body, first.version)
      send('status', JSON.stringify(options.status.current()))
      unsubscribeStatus = options.status.subscribe((status) => send('status', JSON.stringify(status)))
    },
  )
}
