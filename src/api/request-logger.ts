/**
 * The logger each request gets (fastify's `request.log`): pino's child logger with the request id
 * bound, built only when the request writes a line at an enabled level.
 *
 * fastify's default builds the child for every request, and with redaction configured its bindings
 * go through pino's redacting serialiser: about 3% of the API's CPU under cached top-k load
 * (BENCHMARKS.md, sixth session), for a logger that at the API's `warn` level almost never writes.
 * Deferring the child keeps every line a request writes, fastify's own included, bound to its id.
 */
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, Logger } from 'pino'

/**
 * A logger with `parent`'s methods that writes through `parent.child(bindings, options)`, built on
 * the first line at a level `parent` has enabled (or at once when `options` set a level of their
 * own, which `parent` cannot judge), or on `child()` or a change of `level`.
 */
export class LazyChildLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child: Logger | undefined

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions = {}) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
    if (options.level !== undefined) this.#materialise()
  }

  get level(): LevelWithSilentOrString {
    return (this.#child ?? this.#parent).level
  }

  set level(level: LevelWithSilentOrString) {
    this.#materialise().level = level
  }

  // Methods on the prototype, not arrow fields: an instance is made per request and stays small.
  fatal(...args: unknown[]): void {
    this.#write('fatal', args)
  }
  error(...args: unknown[]): void {
    this.#write('error', args)
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args)
  }
  info(...args: unknown[]): void {
    this.#write('info', args)
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args)
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args)
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#materialise().child(bindings, options)
  }

  #write(level: Level, args: unknown[]): void {
    const logger = this.#child ?? (this.#parent.isLevelEnabled(level) ? this.#materialise() : undefined)
    if (logger !== undefined) (logger[level] as (...args: unknown[]) => void).apply(logger, args)
  }

  #materialise(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }
}
