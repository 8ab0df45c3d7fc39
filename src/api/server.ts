/**
 * The HTTP server: built here, started by the composition root. Routes get what they need as
 * plugin options, never by importing adapters.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyError } from 'fastify'
import { ErrorCodes, httpStatusOf, isAppError } from '../errors.ts'
import type { Readiness } from '../observability/health.ts'
import type { Logger } from '../observability/logger.ts'
import type { ApiMetrics, Registry } from '../observability/metrics.ts'
import { type EventsRoutesOptions, eventsRoutes } from './events-routes.ts'
import { errorBody } from './replies.ts'

/** Longer URLs get 414: no valid top-k query comes near it. */
export const MAX_URL_LENGTH = 4096

export interface ServerDeps {
  readonly logger: Logger
  readonly registry: Registry
  /** asked by /readyz */
  readonly readiness: () => Promise<Readiness>
  /** false while the service starts (the schema may not exist yet): the events API answers 503 */
  readonly serving?: () => boolean
  /** the events API; without it the server only has the health and metrics routes */
  readonly events?: EventsRoutesOptions & { readonly metrics: ApiMetrics }
  readonly version?: string
}

export type Server = Awaited<ReturnType<typeof buildServer>>

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
    if (deps.serving && !deps.serving() && request.url.startsWith('/api/')) {
      return reply.code(503).send(errorBody('unavailable', 'the service is starting: waiting for PostgreSQL'))
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
  // What an error means was decided where it happened (store/database-errors.ts for PostgreSQL);
  // here it only becomes a status through the registry in errors.ts.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!isAppError(error) && error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody('bad_request', error.message))
    }
    const status = httpStatusOf(error)
    if (status === 503) {
      request.log.warn({ err: error, route: request.routeOptions.url }, 'a dependency is unavailable')
      return reply.code(503).send(errorBody('unavailable', 'the database is unavailable; try again shortly'))
    }
    if (isAppError(error, ErrorCodes.DATABASE_REJECTED)) {
      return reply.code(400).send(errorBody('bad_request', 'the request holds a value the database cannot take'))
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
  app.get(
    '/readyz',
    { schema: { summary: 'Ready: every dependency answers (else 503, naming what is missing)' } },
    async (request, reply) => {
      const readiness = await deps.readiness()
      if (readiness.ready) return { status: 'ready', dependencies: readiness.dependencies }
      request.log.warn({ missing: readiness.missing }, 'not ready')
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
  return app
}

function describe(name: string, readiness: Readiness): string {
  const state = readiness.dependencies[name]
  const what = state?.status === 'waiting' ? `waiting for ${name}` : `${name} failing since ${state?.since}`
  return state?.error ? `${what} (${state.error})` : what
}
