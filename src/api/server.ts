/**
 * The HTTP server: built here, started by the composition root. Routes get what they need as
 * plugin options, never by importing adapters.
 *
 * Request limits, each answered in the API's error shape (http-errors.ts): URLs over 4 KB get
 * 414, headers over 16 KB 431, a request not received within `requestTimeoutMs` 408, a body over
 * 16 KB 413 (no route takes one), an unknown route 404, another method than GET, HEAD or OPTIONS
 * 405. At most `maxConnections` connections are open at once; more are refused by the socket.
 * Query strings are decoded strictly (request-text.ts): a parameter that is not UTF-8, holds NUL
 * or is too long gets 400 before any handler runs.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify from 'fastify'
import { type Readiness, readinessChange } from '../observability/health.ts'
import type { Logger } from '../observability/logger.ts'
import type { ApiMetrics, Registry } from '../observability/metrics.ts'
import { type EventsRoutesOptions, eventsRoutes } from './events-routes.ts'
import { historyRoutes } from './history-routes.ts'
import { clientErrorHandler, frameworkErrors, installErrorHandlers, installMethodHandlers } from './http-errors.ts'
import { pageRoutes } from './page-routes.ts'
import { errorBody, invalidParameter } from './replies.ts'
import { LazyChildLogger } from './request-logger.ts'
import { type ParameterError, parseQueryString } from './request-text.ts'
import { COMMON_ERRORS, errorResponses, ReadyReply } from './schemas.ts'
import { type StreamRoutesOptions, streamRoutes } from './stream-routes.ts'

/** Longer URLs get 414: no valid top-k query comes near it. */
export const MAX_URL_LENGTH = 4096
export const MAX_HEADER_BYTES = 16 * 1024
const MAX_BODY_BYTES = 16 * 1024

export interface ServerDeps {
  readonly logger: Logger
  readonly registry: Registry
  /** asked by /readyz */
  readonly readiness: () => Promise<Readiness>
  /** false while the service starts (the schema may not exist yet): the events API answers 503 */
  readonly serving?: () => boolean
  /** the events API; without it the server only has the health and metrics routes */
  readonly events?: EventsRoutesOptions & { readonly metrics: ApiMetrics }
  /** the live top-k stream (with the events API) */
  readonly streams?: StreamRoutesOptions
  readonly version?: string
  /** how long a request may take to arrive, headers and body (default 10 s) */
  readonly requestTimeoutMs?: number
  /** connections open at once (default 10,000) */
  readonly maxConnections?: number
}

export type Server = Awaited<ReturnType<typeof buildServer>>

// A query string that failed strict decoding carries its error under this key instead of values.
const QUERY_ERROR = Symbol('query error')
type StrictQuery = Record<string, unknown> & { [QUERY_ERROR]?: ParameterError }

function strictQuery(raw: string): StrictQuery {
  const parsed = parseQueryString(raw)
  if ('error' in parsed) return { [QUERY_ERROR]: parsed.error }
  return parsed.query as StrictQuery
}

export async function buildServer(deps: ServerDeps) {
  const app = Fastify({
    // Per-request lines at 10,000 requests/s would cost more than the requests: warnings and up only.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }),
    // A request's child logger (its id bound) is built when it first writes a line, not per request.
    childLoggerFactory: (logger, bindings, options) => new LazyChildLogger(logger as Logger, bindings, options),
    // A path parameter as long as a URL may be reaches its route, whose 400 says what is wrong
    // with it (fastify's default limit answered a long event_id with 414).
    routerOptions: { maxParamLength: MAX_URL_LENGTH, querystringParser: strictQuery },
    // Node answers an HTTP/1.1 request without Host with a bare 400 before any hook runs; the
    // onRequest hook below refuses it instead, in the API's error shape (RFC 9112 3.2).
    http: { maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false },
    requestTimeout: deps.requestTimeoutMs ?? 10_000,
    bodyLimit: MAX_BODY_BYTES,
    frameworkErrors,
    clientErrorHandler,
  })
  app.server.maxConnections = deps.maxConnections ?? 10_000

  // Hooks on every request take a callback, not a promise: one allocation and microtask less each.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.raw.headers.host === undefined && request.raw.httpVersion === '1.1') {
      reply.code(400).send(errorBody('bad_request', 'an HTTP/1.1 request must have a Host header'))
      return
    }
    if (request.url.length > MAX_URL_LENGTH) {
      reply.code(414).send(errorBody('uri_too_long', `the URL is longer than ${MAX_URL_LENGTH} characters`))
      return
    }
    const queryError = (request.query as StrictQuery)[QUERY_ERROR]
    if (queryError !== undefined) {
      invalidParameter(reply, queryError)
      return
    }
    if (deps.serving && !deps.serving() && request.url.startsWith('/api/')) {
      reply.code(503).send(errorBody('unavailable', 'the service is starting: waiting for PostgreSQL'))
      return
    }
    done()
  })
  const metrics = deps.events?.metrics
  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      // A stream lasts as long as its client stays: its duration would drown the latencies. Its
      // refusals (4xx, 5xx) are answers like any other, and counted.
      const streaming = (request.routeOptions.config as { streaming?: boolean }).streaming === true
      if (!streaming || reply.statusCode !== 200) {
        metrics.requestSeconds.observe(
          {
            route: request.routeOptions.url ?? 'unmatched',
            method: request.method,
            status: String(reply.statusCode),
          },
          reply.elapsedTime / 1000,
        )
      }
      done()
    })
  }
  installErrorHandlers(app)
  const getPaths = new Set<string>()
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (methods.includes('GET') && !route.url.startsWith('/docs')) getPaths.add(route.url)
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rsvp-topk',
        description: 'Exact top k events by yes RSVPs, from a Kafka stream of Meetup-style RSVPs',
        version: deps.version ?? '0',
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Alive',
        response: {
          200: { type: 'object', properties: { status: { type: 'string' } } },
          ...errorResponses(...COMMON_ERRORS),
        },
      },
    },
    async () => ({ status: 'ok' }),
  )
  // What /readyz last logged as missing: it logs changes, not every probe (readinessChange).
  let missingLogged: readonly string[] = []
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Ready: every dependency answers (else 503, naming what is missing)',
        response: { ...errorResponses(...COMMON_ERRORS), 200: ReadyReply, 503: ReadyReply },
      },
    },
    async (request, reply) => {
      const readiness = await deps.readiness()
      const missing = readiness.ready ? [] : readiness.missing
      const change = readinessChange(missingLogged, missing)
      missingLogged = missing
      if (change === 'not ready') request.log.warn({ missing }, 'not ready')
      if (change === 'ready') request.log.info('ready again')
      if (readiness.ready) return { status: 'ready', dependencies: readiness.dependencies }
      return reply.code(503).send({
        ...errorBody(
          'unavailable',
          `not ready: ${readiness.missing.map((name) => describe(name, readiness)).join('; ')}`,
        ),
        dependencies: readiness.dependencies,
      })
    },
  )
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType)
    return deps.registry.metrics()
  })

  if (deps.events) await app.register(eventsRoutes, deps.events)
  if (deps.events && deps.streams) await app.register(streamRoutes, deps.streams)
  if (deps.events)
    await app.register(historyRoutes, { db: deps.events.db, ...(deps.events.now && { now: deps.events.now }) })
  // The live page reads the events API, so it comes with it.
  if (deps.events) await app.register(pageRoutes)
  installMethodHandlers(app, [...getPaths])
  return app
}

function describe(name: string, readiness: Readiness): string {
  const state = readiness.dependencies[name]
  const what = state?.status === 'waiting' ? `waiting for ${name}` : `${name} failing since ${state?.since}`
  return state?.error ? `${what} (${state.error})` : what
}
