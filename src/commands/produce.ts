/**
 * `rsvp-topk produce`: sends RSVPs to Kafka, from a JSON-lines file (or stdin) or from the seeded
 * generator, as fast as possible or at a steady rate, with progress on stderr and a summary on
 * stdout. Exit codes: 0 when every message was sent, 1 when a send failed (or on a usage error),
 * 130 after Ctrl-C (SIGINT) and 143 after SIGTERM, once the send under way has finished.
 */
import cliProgress from 'cli-progress'
import { loadKafkaConfig } from '../config.ts'
import { AppError, ErrorCodes, isAppError } from '../errors.ts'
import { createRawProducer, ensureTopics, type OutgoingMessage } from '../kafka/client.ts'
import { openLineSource } from '../producer/file-lines.ts'
import { type GeneratedMessage, type GeneratorOptions, generateStream } from '../producer/generator.ts'
import { createPacer } from '../producer/pacing.ts'

/** The flags as commander hands them over: strings, checked by parseProduceOptions. */
export interface ProduceFlags {
  file?: string
  generate?: string
  rate?: string
  topic?: string
  seed?: string
  events?: string
  groups?: string
  countries?: string
  topics?: string
  members?: string
  invalidShare?: string
  spanDays?: string
  start?: string
  batch?: string
  progress?: boolean
}

export interface ProduceOptions {
  readonly file: string | undefined
  /** generator options when --generate was given */
  readonly generate: GeneratorOptions | undefined
  /** messages per second; undefined sends as fast as possible */
  readonly rate: number | undefined
  readonly topic: string | undefined
  /** most messages in one send */
  readonly batchMessages: number
  readonly progress: boolean
}

/**
 * Measured with --generate 1,000,000 on the local stack (two cores, shared with the broker):
 * 1,000 per send ran at 105-128k msg/s; 250 was about a fifth slower, 2,000-8,000 no faster
 * (and they hold more memory). Batches fill up only while the previous send is on the wire.
 */
export const DEFAULT_BATCH_MESSAGES = 1000
// A send is also cut at this many bytes, so a file of large lines does not build huge batches.
const BATCH_BYTES = 2 * 1024 * 1024
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,244}$/

/** Checks every flag and lists every problem at once in one AppError(RSVP_USAGE). */
export function parseProduceOptions(flags: ProduceFlags): ProduceOptions {
  const problems: string[] = []
  const integer = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined
    const digits = text.replaceAll('_', '')
    if (!/^\d+$/.test(digits) || !Number.isSafeInteger(Number(digits)) || Number(digits) < min) {
      problems.push(`${name} must be an integer >= ${min}, not '${text}'`)
      return undefined
    }
    return Number(digits)
  }
  const number = (name: string, text: string | undefined, ok: (n: number) => boolean, rule: string) => {
    if (text === undefined) return undefined
    const value = text.trim() === '' ? Number.NaN : Number(text)
    if (!Number.isFinite(value) || !ok(value)) {
      problems.push(`${name} must be ${rule}, not '${text}'`)
      return undefined
    }
    return value
  }

  if (flags.file === undefined && flags.generate === undefined) {
    problems.push('say what to send: --file PATH (JSON lines, .gz too, - for stdin) or --generate N')
  }
  if (flags.file !== undefined && flags.generate !== undefined) {
    problems.push('--file and --generate exclude each other: give one of them')
  }
  if (flags.file === '') problems.push('--file needs a path (or - for stdin)')
  const generatorFlags = [
    ['--seed', flags.seed],
    ['--events', flags.events],
    ['--groups', flags.groups],
    ['--countries', flags.countries],
    ['--topics', flags.topics],
    ['--members', flags.members],
    ['--invalid-share', flags.invalidShare],
    ['--span-days', flags.spanDays],
    ['--start', flags.start],
  ] as const
  if (flags.file !== undefined && flags.generate === undefined) {
    const given = generatorFlags.filter(([, value]) => value !== undefined).map(([name]) => name)
    if (given.length > 0) {
      problems.push(`${given.join(', ')} ${given.length === 1 ? 'applies' : 'apply'} only to --generate`)
    }
  }
  if (flags.topic !== undefined && !TOPIC_NAME.test(flags.topic)) {
    problems.push(`--topic must be 1 to 244 of a-z A-Z 0-9 . _ -, not '${flags.topic}'`)
  }
  const rate = number('--rate', flags.rate, (n) => n > 0, 'a number of messages per second > 0')
  const batchMessages = integer('--batch', flags.batch, 1) ?? DEFAULT_BATCH_MESSAGES
  const count = integer('--generate', flags.generate, 1)
  const seed = integer('--seed', flags.seed ?? '1', 0) ?? 1
  const start = flags.start === undefined ? undefined : parseStart(flags.start)
  if (flags.start !== undefined && start === undefined) {
    problems.push(
      `--start must be an ISO-8601 time (2026-01-01, 2026-01-01T09:30:00Z) or epoch ms, not '${flags.start}'`,
    )
  }
  const generate: GeneratorOptions | undefined =
    flags.generate === undefined
      ? undefined
      : {
          count: count ?? 0,
          seed,
          events: integer('--events', flags.events, 1),
          groups: integer('--groups', flags.groups, 1),
          countries: integer('--countries', flags.countries, 1),
          topics: integer('--topics', flags.topics, 1),
          members: integer('--members', flags.members, 1),
          invalidShare: number('--invalid-share', flags.invalidShare, (n) => n >= 0 && n <= 1, 'from 0 to 1'),
          spanDays: number('--span-days', flags.spanDays, (n) => n > 0, 'a number of days > 0'),
          startMtime: start,
        }
  if (problems.length > 0) {
    throw new AppError(ErrorCodes.USAGE, `produce: ${problems.join('; ')} (see rsvp-topk produce --help)`, {
      problems,
    })
  }
  return {
    file: flags.file,
    generate,
    rate,
    topic: flags.topic,
    batchMessages,
    progress: flags.progress !== false,
  }
}

/** Epoch ms, or an ISO-8601 date or time; without a zone it is UTC. */
export function parseStart(text: string): number | undefined {
  if (/^\d{1,15}$/.test(text)) return Number(text)
  const match = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?))?(Z|[+-]\d{2}:\d{2})?$/.exec(text)
  if (!match) return undefined
  const ms = Date.parse(`${match[1]}T${match[2] ?? '00:00'}${match[3] ?? 'Z'}`)
  // Date.parse rolls 2026-02-30 over to March; a real day reads back unchanged
  if (
    Number.isNaN(ms) ||
    ms < 0 ||
    new Date(Date.parse(`${match[1]}T00:00Z`)).toISOString().slice(0, 10) !== match[1]
  ) {
    return undefined
  }
  return ms
}

/** Where the messages come from, with what progress can say about it. */
interface MessageSource {
  readonly messages: Iterable<OutgoingMessage> | AsyncIterable<OutgoingMessage>
  /** messages to send, when known */
  readonly totalMessages: number | undefined
  /** bytes to read and read so far, when the input is a file of known size */
  readonly bytes: (() => { read: number; total: number }) | undefined
  readonly blankLines: (() => number) | undefined
  close(): void
}

async function openSource(options: ProduceOptions, topic: string): Promise<MessageSource> {
  if (options.file !== undefined) {
    const source = await openLineSource(options.file)
    const total = source.totalBytes
    return {
      messages: (async function* () {
        for await (const line of source.lines) yield { topic, key: line.key, value: line.value }
      })(),
      totalMessages: undefined,
      bytes: total === undefined ? undefined : () => ({ read: source.bytesRead(), total }),
      blankLines: source.blankLines,
      close: source.close,
    }
  }
  const generator = generateStream(options.generate as GeneratorOptions)
  // The first message checks the options (and builds the generator's world) before we connect.
  let first: IteratorResult<GeneratedMessage>
  try {
    first = generator.next()
  } catch (error) {
    const message = (error as Error).message.replace(/^invalid generator options: /, '')
    throw new AppError(ErrorCodes.USAGE, `produce --generate: ${message}`, { cause: error })
  }
  return {
    messages: (function* () {
      let next = first
      while (!next.done) {
        const m = next.value
        yield { topic, key: m.key === undefined ? undefined : Buffer.from(m.key), value: Buffer.from(m.value) }
        next = generator.next()
      }
    })(),
    totalMessages: options.generate?.count,
    bytes: undefined,
    blankLines: undefined,
    close: () => void generator.return(undefined),
  }
}

const SEND_RETRIES = 30

/** Runs the command and returns its exit code; usage and connection errors are thrown as AppErrors. */
export async function runProduce(flags: ProduceFlags): Promise<number> {
  const options = parseProduceOptions(flags)
  const kafka = loadKafkaConfig()
  const topic = options.topic ?? kafka.topic
  const source = await openSource(options, topic)
  let created: string[]
  try {
    created = await ensureTopics(kafka, [{ name: topic, partitions: kafka.partitions }])
  } catch (error) {
    source.close()
    // KAFKA_REPLICATION_FACTOR larger than the cluster: its own message says what to change
    if (isAppError(error, ErrorCodes.CONFIG_INVALID)) throw error
    // the adapter's message ("Listing topics failed") hides the reason, such as a refused connection
    const reason = describeError((error as Error).cause ?? error)
    throw new AppError(ErrorCodes.DEPENDENCY_FAILED, `produce: Kafka at ${kafka.brokers.join(',')}: ${reason}`, {
      cause: error,
      retryable: true,
    })
  }
  // A bounded number of retries (about half a minute): a broker that stays away fails the run
  // (exit 1) instead of leaving it waiting for good.
  const producer = createRawProducer(kafka, { retries: SEND_RETRIES })
  if (options.progress) {
    const input = options.file === '-' ? 'stdin' : options.file
    const what = input ?? `${source.totalMessages} generated messages`
    const how = options.rate === undefined ? 'as fast as possible' : `at ${options.rate} msg/s`
    const fresh = created.length > 0 ? ` (created with ${kafka.partitions} partitions)` : ''
    process.stderr.write(`rsvp-topk produce: sending ${what} to ${topic}${fresh}, ${how}\n`)
  }

  const started = performance.now()
  const counts = { sent: 0, failed: 0 }
  const progress = createProgress({
    enabled: options.progress,
    tty: process.stderr.isTTY === true,
    totalMessages: source.totalMessages,
    bytes: source.bytes,
    counts,
  })

  const stop = new AbortController()
  let interrupted: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted !== undefined) {
      // a second Ctrl-C does not wait for the flush (Kafka may be gone)
      progress.stop()
      process.stderr.write(`rsvp-topk produce: ${signal} again; quitting without waiting for Kafka\n`)
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    interrupted = signal
    progress.note(`${signal}: finishing the send under way, then stopping (${signal} again quits at once)`)
    stop.abort()
    source.close()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let error: unknown
  try {
    error = await pump(source, options, counts, (batch) => producer.send(batch), stop.signal)
  } finally {
    progress.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await producer.close().catch(() => {})
  }

  const seconds = (performance.now() - started) / 1000
  const result = { sent: counts.sent, failed: counts.failed, seconds, interrupted }
  if (error instanceof SendError) {
    process.stderr.write(`rsvp-topk produce: sending to ${topic} failed: ${describeError(error.cause)}\n`)
  }
  process.stdout.write(`${summary(result, topic, source.blankLines?.())}\n`)
  // a reading error (a bad gzip file, an overlong line) is reported by the CLI like any other
  if (error !== undefined && !(error instanceof SendError)) throw error
  if (error !== undefined) return 1
  if (interrupted !== undefined) return interrupted === 'SIGINT' ? 130 : 143
  return 0
}

/** The last line on stdout: what was sent, how fast. */
function summary(
  result: { sent: number; failed: number; seconds: number; interrupted: NodeJS.Signals | undefined },
  topic: string,
  blankLines?: number,
): string {
  const rate = result.seconds > 0 ? Math.round(result.sent / result.seconds) : 0
  const parts = [
    `sent ${result.sent}`,
    `failed ${result.failed}`,
    `seconds ${result.seconds.toFixed(2)}`,
    `rate ${rate} msg/s`,
    `topic ${topic}`,
  ]
  if (blankLines !== undefined && blankLines > 0) parts.push(`blank lines skipped ${blankLines}`)
  const head = result.interrupted === undefined ? 'produce' : `produce (stopped by ${result.interrupted})`
  return `${head}: ${parts.join(', ')}`
}

/** A send that failed after the client's own retries; the run stops there. */
class SendError extends Error {}

/** The error's message and, when it wraps others, the innermost one (the actual reason). */
function describeError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error)
  let inner: unknown = error
  for (let depth = 0; depth < 10; depth++) {
    const next = (inner as { errors?: unknown[] })?.errors?.[0] ?? (inner as Error)?.cause
    if (next === undefined || next === null) break
    inner = next
  }
  const reason = (inner as Error)?.message
  return reason && reason !== message ? `${message} (${reason})` : message
}

/**
 * Moves messages from the source to Kafka. A reader fills a short queue while the previous batch is
 * on the wire, so reading (or generating) overlaps sending; sends go one after the other, which
 * keeps each key's messages in order. Returns the error that stopped it, if one did.
 */
async function pump(
  source: MessageSource,
  options: ProduceOptions,
  counts: { sent: number; failed: number },
  send: (batch: OutgoingMessage[]) => Promise<void>,
  signal: AbortSignal,
): Promise<unknown> {
  const pacer = createPacer({ rate: options.rate })
  const highWater = options.batchMessages * 2
  const queue: OutgoingMessage[] = []
  let readerDone = false
  let readerError: unknown
  // set when the sender gives up, so the reader stops too
  let stopped = false
  // one waiter each way: the reader waits for room, the sender for messages (a spent resolve is a no-op)
  let wakeReader = (): void => {}
  let wakeSender = (): void => {}
  signal.addEventListener(
    'abort',
    () => {
      wakeReader()
      wakeSender()
    },
    { once: true },
  )
  const push = async (message: OutgoingMessage) => {
    queue.push(message)
    if (queue.length === 1) wakeSender()
    if (queue.length >= highWater && !stopped) {
      await new Promise<void>((resolve) => {
        wakeReader = resolve
      })
    }
  }
  const reader = (async () => {
    try {
      if (Symbol.iterator in source.messages) {
        for (const message of source.messages) {
          if (signal.aborted || stopped) break
          await push(message)
        }
      } else {
        for await (const message of source.messages) {
          if (signal.aborted || stopped) break
          await push(message)
        }
      }
    } catch (error) {
      readerError = error
    } finally {
      readerDone = true
      wakeSender()
    }
  })()

  let error: unknown
  for (;;) {
    while (queue.length === 0 && !readerDone && !signal.aborted) {
      await new Promise<void>((resolve) => {
        wakeSender = resolve
      })
    }
    // After a signal the send under way finishes (that is the flush); what was only read ahead
    // is dropped, since sending it at once would break --rate.
    if (queue.length === 0 || signal.aborted) break
    const allowed = await pacer.take(Math.min(queue.length, options.batchMessages), signal)
    if (allowed === 0) break
    let bytes = 0
    let take = 0
    while (take < allowed && (take === 0 || bytes < BATCH_BYTES)) {
      const message = queue[take] as OutgoingMessage
      bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0)
      take++
    }
    const batch = queue.splice(0, take)
    wakeReader()
    try {
      await send(batch)
      counts.sent += batch.length
    } catch (cause) {
      counts.failed += batch.length
      error = new SendError('send failed', { cause })
      break
    }
  }
  stopped = true
  wakeReader()
  if (error !== undefined || signal.aborted) source.close()
  await reader
  return error ?? readerError
}

interface ProgressOptions {
  readonly enabled: boolean
  /** a bar that redraws itself, or plain lines every few seconds */
  readonly tty: boolean
  readonly totalMessages: number | undefined
  readonly bytes: (() => { read: number; total: number }) | undefined
  readonly counts: { readonly sent: number; readonly failed: number }
}

interface Progress {
  /** a line of its own above the bar */
  note(text: string): void
  stop(): void
}

const BAR_REFRESH_MS = 250
const LINE_EVERY_MS = 5000
// the rate shown is over the last few seconds, so it follows --rate changes and stalls
const RATE_WINDOW_MS = 3000

/** Progress on stderr: a cli-progress bar on a terminal, plain lines otherwise. */
function createProgress(options: ProgressOptions): Progress {
  if (!options.enabled) return { note: (text) => process.stderr.write(`rsvp-topk produce: ${text}\n`), stop() {} }
  const { counts, totalMessages, bytes } = options
  const samples: { at: number; sent: number }[] = [{ at: performance.now(), sent: 0 }]
  const rate = (): number => {
    const now = performance.now()
    samples.push({ at: now, sent: counts.sent })
    while (samples.length > 2 && (samples[1]?.at ?? now) < now - RATE_WINDOW_MS) samples.shift()
    const first = samples[0] as { at: number; sent: number }
    return now > first.at ? Math.round(((counts.sent - first.sent) * 1000) / (now - first.at)) : 0
  }
  // what the bar measures: messages when their number is known, else bytes of the input
  const position = (): { value: number; total: number } | undefined => {
    if (totalMessages !== undefined) return { value: counts.sent + counts.failed, total: totalMessages }
    const b = bytes?.()
    return b && { value: b.read, total: b.total }
  }

  if (options.tty) {
    const known = position() !== undefined
    const format = known
      ? `{bar} {percentage}% | {sent}${totalMessages === undefined ? '' : '/{total}'} msgs | {rate} msg/s | ETA {eta_formatted}`
      : '{sent} msgs | {rate} msg/s | {duration_formatted}'
    const bar = new cliProgress.SingleBar(
      { format, stream: process.stderr, etaBuffer: 20, fps: 5, hideCursor: true, barsize: 30 },
      cliProgress.Presets.shades_classic,
    )
    const update = () => {
      const at = position()
      bar.update(at?.value ?? 0, { sent: counts.sent, rate: rate() })
    }
    bar.start(position()?.total ?? 1, 0, { sent: 0, rate: 0 })
    const timer = setInterval(update, BAR_REFRESH_MS).unref()
    let stopped = false
    return {
      note(text) {
        process.stderr.write(`\n${text}\n`)
      },
      stop() {
        if (stopped) return
        stopped = true
        clearInterval(timer)
        update()
        bar.stop()
      },
    }
  }

  const line = () => {
    const at = position()
    const perSecond = rate()
    const parts = [`${counts.sent} sent`]
    if (counts.failed > 0) parts.push(`${counts.failed} failed`)
    if (totalMessages !== undefined) parts[0] = `${counts.sent}/${totalMessages} sent`
    if (at !== undefined) parts.push(`${((100 * at.value) / Math.max(1, at.total)).toFixed(1)}%`)
    parts.push(`${perSecond} msg/s`)
    if (at !== undefined && at.value > 0) {
      const elapsed = (performance.now() - started) / 1000
      parts.push(`ETA ${Math.ceil(((at.total - at.value) * elapsed) / at.value)} s`)
    }
    process.stderr.write(`rsvp-topk produce: ${parts.join(', ')}\n`)
  }
  const started = performance.now()
  const timer = setInterval(line, LINE_EVERY_MS).unref()
  return {
    note: (text) => process.stderr.write(`rsvp-topk produce: ${text}\n`),
    stop: () => clearInterval(timer),
  }
}
