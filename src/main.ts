/**
 * The process shell: the only place that touches signals and exit codes. It loads the
 * configuration, builds the app, and on SIGTERM or SIGINT closes it (the consumer finishes or
 * abandons its batch, commits and leaves the group) and exits 0 within 10 s.
 */
import { flushCompileCache } from 'node:module'
import { buildApp } from './app.ts'
import { loadConfig } from './config.ts'
import { isAppError } from './errors.ts'
import { createLogger } from './observability/logger.ts'

const SHUTDOWN_DEADLINE_MS = 9000

export async function runService(mode: { ingest: boolean; api: boolean }): Promise<void> {
  const config = loadConfig()
  const logger = createLogger(config.logLevel)
  const app = buildApp(
    config,
    { ingest: mode.ingest, api: mode.api, httpPort: mode.api ? config.http.port : config.metricsPort },
    { logger },
  )

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 9 s; exiting anyway (uncommitted messages will be redelivered)')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS)
    deadline.unref()
    app.close().then(
      () => {
        logger.info('stopped')
        logger.flush()
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))

  try {
    await app.start()
    // Every module this command needs is loaded now: the next start finds them in the compile
    // cache even when scripts/warm-compile-cache.ts never ran (bin/rsvp-topk.js says why).
    flushCompileCache()
  } catch (error) {
    // A signal during start-up ends the waiting for dependencies: stop() takes it from there.
    if (stopping) return
    logger.fatal({ err: error }, isAppError(error) ? error.message : 'start-up failed')
    await app.close().catch(() => {})
    process.exit(1)
  }
}
