/**
 * The HTTP server: built here, started by the composition root. Routes get what they need as
 * plugin options, never by importing adapters.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyError } from 'fastify'
import type { Logger } from '../observability/logger.ts'
import type { ApiMetrics, Registry } from '../observability/metrics.ts'
import type { Queryable } from '../store/postgres.ts'
import { type EventsRoutesOptions, eventsRoutes } from './events-routes.ts'
import { errorBody } from './replies.ts'

/** Longer URLs get 414: no valid top-k query comes near it. */
export const MAX_URL_LENGTH = 4096
const READY_CHECK_TIMEOUT_MS = 2000

export interface ServerDeps {
  readonly logger: Logger
  readonly registry: Registry
  /** asked by /readyz */
  readonly db: Queryable
  /** the events API; without it the server only has the health and metrics routes */
  readonly events?: EventsRoutesOptions & { readonly metrics: ApiMetrics }
  readonly version?: string
}

export type Server = Awaited<ReturnType<typeof buildServer>>

// PostgreSQL or the network failing (connection refused or lost, timeouts, the server shutting
// down or out of connections): the request may succeed later, so it is a 503, not a 500.
function isUnavailable(error: FastifyError & { code?: string }): boolean {
  const code = error.code ?? ''
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300'].includes(code) ||
    code.startsWith('08') ||
    /timeout|terminated|Connection terminated/i.test(error.message)
  )
}

export async function buildServer(deps: ServerDeps) {
  const app = Fastify({
    // Per-request lines at 10,000 requests/s would cost more than the requests: warnings and up only.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }),
    routerOptions: { maxParamLength: 1000 },
  })

  app.addHook('onRequest', async (request, reply) => {
    if (request.url.length > MAX_URL_LENGTH) {
      return reply.code(414).send(errorBody('uri_too_long', `the URL is longer than ${MAX_URL_LENGTH} characters`))
    }
  })
  const metrics = deps.events?.metrics
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.requestSeconds.observe(
        {
          route: request.routeOptions.url ?? 'unmatched',
          method: request.method,
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      )
    })
  }

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  )
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody('bad_request', error.message))
    }
    if (isUnavailable(error)) {
      request.log.warn({ err: error, route: request.routeOptions.url }, 'a dependency is unavailable')
      return reply.code(503).send(errorBody('unavailable', 'the database is unavailable; try again shortly'))
    }
    request.log.error({ err: error, route: request.routeOptions.url }, 'request failed')
    return reply.code(500).send(errorBody('internal_error', 'internal error'))
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
  app.get('/healthz', { schema: { summary: 'Alive' } }, async () => ({ status: 'ok' }))
  app.get('/readyz', { schema: { summary: 'Ready: PostgreSQL answers (else 503)' } }, async (request, reply) => {
    try {
      await Promise.race([
        deps.db.query('SELECT 1'),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('ready check timed out')), READY_CHECK_TIMEOUT_MS).unref(),
        ),
      ])
      return { status: 'ready' }
    } catch (error) {
      request.log.warn({ err: error }, 'not ready: PostgreSQL does not answer')
      return reply.code(503).send(errorBody('unavailable', 'PostgreSQL does not answer'))
    }
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType)
    return deps.registry.metrics()
  })

  if (deps.events) await app.register(eventsRoutes, deps.events)
  return app
}
