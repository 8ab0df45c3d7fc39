/**
 * What the benchmark scripts share: a fresh database and topic per run (so earlier runs make
 * nothing faster or slower), filling a topic with a generated stream, and the machine's facts.
 */
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { type Command, InvalidArgumentError } from 'commander'
import type { Config } from '../src/config.ts'
import { createRawProducer, ensureTopics } from '../src/kafka/client.ts'
import { createLogger } from '../src/observability/logger.ts'
import { GENERATOR_LIMITS, type GeneratorOptions, generateStream } from '../src/producer/generator.ts'
import { createPostgres, type Postgres } from '../src/store/postgres.ts'
import { dropDatabase } from '../test/helpers.ts'

export const silent = createLogger('silent')

export interface FreshDatabase {
  readonly name: string
  readonly url: string
  drop(): Promise<void>
}

export async function createFreshDatabase(config: Config, name: string): Promise<FreshDatabase> {
  const admin: Postgres = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silent })
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } catch (error) {
    await admin.close()
    throw error
  }
  const url = new URL(config.postgres.url)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    async drop() {
      await dropDatabase(admin, name)
      await admin.close()
    },
  }
}

/** Creates `topic` (6 partitions, and its .dlq) and sends `options.count` generated messages; returns msgs/s. */
export async function fillTopic(config: Config, topic: string, options: GeneratorOptions): Promise<number> {
  await ensureTopics(config.kafka, [
    { name: topic, partitions: 6 },
    { name: `${topic}.dlq`, partitions: 6 },
  ])
  const producer = createRawProducer(config.kafka)
  const started = performance.now()
  let chunk: { topic: string; key: Buffer | undefined; value: Buffer }[] = []
  let sent = 0
  try {
    for (const message of generateStream(options)) {
      chunk.push({
        topic,
        key: message.key === undefined ? undefined : Buffer.from(message.key),
        value: Buffer.from(message.value),
      })
      if (chunk.length === 20_000) {
        await producer.send(chunk)
        sent += chunk.length
        chunk = []
        if (sent % 200_000 === 0) console.log(`  produced ${sent.toLocaleString('en')}`)
      }
    }
    await producer.send(chunk)
  } finally {
    await producer.close()
  }
  return Math.round(options.count / ((performance.now() - started) / 1000))
}

/** The process's peak resident set (VmHWM) in MB, or undefined when it is gone. */
export function peakRssMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024)
  } catch {
    return undefined
  }
}

// Linux's clock ticks per second for /proc's CPU times (USER_HZ, 100 on every mainstream kernel).
const TICKS_PER_SECOND = 100

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (proc(5): fields 14
 * and 15, counted after the command's closing parenthesis), or undefined when it is gone.
 */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

/** The machine's CPU seconds since boot, busy (all but idle and iowait) and in all, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((sum, t) => sum + t, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND }
}

export function machine() {
  return { cores: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30), cpu: cpus()[0]?.model ?? 'unknown' }
}

/** One statement's share of a database's work, from pg_stat_statements. */
export interface StatementTime {
  /** the statement's text, its whitespace folded, cut to 100 characters */
  readonly statement: string
  readonly calls: number
  /** execution time summed over its calls (pg_stat_statements.total_exec_time), ms */
  readonly totalMs: number
  /** rows returned or changed, summed */
  readonly rows: number
  /** WAL written by its executions, MB */
  readonly walMb: number
}

/**
 * Every top-level statement run so far in the database named `database`, most time first, from
 * pg_stat_statements, which `./dev.sh up` preloads and creates in the stack's own database (this
 * reads it through `config.postgres.url`, whatever database the statements ran in). Read it before
 * anything else runs in that database. Returns undefined, with a warning, where the extension is
 * missing (another stack) or the role may not read it: the figure it backs is then left out, not
 * the benchmark.
 */
export async function statementTimes(config: Config, database: string): Promise<StatementTime[] | undefined> {
  const stats = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silent })
  try {
    const result = await stats.query<{
      statement: string
      calls: string
      total_ms: number
      rows: string
      wal_bytes: string
    }>(
      `SELECT left(regexp_replace(s.query, '\\s+', ' ', 'g'), 100) AS statement, s.calls, s.total_exec_time AS total_ms,
              s.rows, s.wal_bytes
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1
        ORDER BY s.total_exec_time DESC`,
      [database],
    )
    return result.rows.map((row) => ({
      statement: row.statement,
      calls: Number(row.calls),
      totalMs: Math.round(row.total_ms),
      rows: Number(row.rows),
      walMb: Math.round(Number(row.wal_bytes) / 2 ** 20),
    }))
  } catch (error) {
    console.warn(`pg_stat_statements not read: ${(error as Error).message}`)
    return undefined
  } finally {
    await stats.close()
  }
}

const DIGITS = /^\d+(?:_\d+)*$/

/**
 * A command-line integer in [min, max]: decimal digits, `_` allowed between them (1_000_000).
 * Throws commander's InvalidArgumentError, which it prints as a one-line error, otherwise.
 */
export function integerBetween(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = DIGITS.test(text) ? Number(text.replaceAll('_', '')) : Number.NaN
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max.toLocaleString('en')}`
      throw new InvalidArgumentError(`an integer ${range}`)
    }
    return value
  }
}

/** A command-line integer >= 1 (as integerBetween). */
export const positiveInteger = integerBetween(1, Number.MAX_SAFE_INTEGER)

/** A command-line integer >= 0 (as integerBetween). */
export const nonNegativeInteger = integerBetween(0, Number.MAX_SAFE_INTEGER)

/** A decimal number as typed: digits with `_` between them, an optional fraction; NaN otherwise. */
function decimal(text: string): number {
  return /^(?:\d+(?:_\d+)*)?(?:\.\d+)?$/.test(text) && /\d/.test(text) ? Number(text.replaceAll('_', '')) : Number.NaN
}

/** A command-line number > 0 (decimal, fractions allowed, `_` between digits). */
export function positiveNumber(text: string): number {
  const value = decimal(text)
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError('a number > 0')
  return value
}

/** A command-line number >= 0 (as positiveNumber). */
export function nonNegativeNumber(text: string): number {
  const value = decimal(text)
  if (!(value >= 0) || !Number.isFinite(value)) throw new InvalidArgumentError('a number >= 0')
  return value
}

/** What the generated-stream options give: `--messages`, `--seed`, `--events`. */
export interface GeneratedStreamOptions {
  readonly messages: number
  readonly seed: number
  readonly events: number
}

/**
 * Adds the options of a bench that generates its own stream to `command`: --messages (default
 * 1,000,000), --seed (7) and --events (100,000; at most the generator's limit), so that two
 * benches given the same values measure the same messages.
 */
export function withGeneratedStreamOptions(command: Command, messagesHelp: string): Command {
  return command
    .option('--messages <n>', messagesHelp, positiveInteger, 1_000_000)
    .option('--seed <n>', "the generator's seed", nonNegativeInteger, 7)
    .option(
      '--events <n>',
      'events the generated RSVPs are spread over',
      integerBetween(1, GENERATOR_LIMITS.events),
      100_000,
    )
}
