/**
 * The HTTP server: built here, started by the composition root. Routes get what they need as
 * plugin options, never by importing adapters.
 */
import Fastify from 'fastify'
import type { Logger } from '../observability/logger.ts'
import type { Registry } from '../observability/metrics.ts'

export interface ServerDeps {
  readonly logger: Logger
  readonly registry: Registry
}

export type Server = ReturnType<typeof buildServer>

export function buildServer(deps: ServerDeps) {
  const app = Fastify({
    // Per-request lines at 10,000 requests/s would cost more than the requests: warnings and up only.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }),
    routerOptions: { maxParamLength: 200 },
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType)
    return deps.registry.metrics()
  })
  return app
}
