import { type Logger, pino } from 'pino'
import type { LogLevel } from '../config.ts'

export type { Logger }

/**
 * The one root logger: JSON lines on stdout, errors under `err`. Components take a child
 * (`logger.child({ component })`). The redact list is a second line of defence: secrets are
 * non-enumerable in the config, so they should never reach a log call at all.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'rsvp-topk' },
      redact: {
        paths: ['password', '*.password', 'databaseUrl', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  )
}
