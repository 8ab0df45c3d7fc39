/**
 * Drives real `rsvp-topk ingest` processes against the local stack: each test gets its own topic,
 * consumer group and database, produces a generated stream, and compares what PostgreSQL holds
 * with the independent contract oracle.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createRawProducer, deleteTopics, ensureTopics } from '../../src/kafka/client.ts'
import type { GeneratedMessage } from '../../src/producer/generator.ts'
import { migrate } from '../../src/store/migrate.ts'
import type { Postgres } from '../../src/store/postgres.ts'
import { createTestDatabase, freePort, type Scope, silentLogger, stackConfig, uniqueName } from '../helpers.ts'
import { type StreamValue, waitForContract } from './contract-check.ts'
import { get, waitFor } from './http.ts'

const BIN = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface IngestFixture {
  readonly topic: string
  readonly groupId: string
  readonly databaseUrl: string
  readonly db: Postgres
  /** env for an ingest process of this fixture */
  readonly env: NodeJS.ProcessEnv
  /** ingest processes started for this fixture, killed before its database is dropped */
  readonly processes: Set<ChildProcess>
}

export async function createIngestFixture(
  t: Scope,
  partitions = 6,
  options: { readonly topicConfigs?: Readonly<Record<string, string>> } = {},
): Promise<IngestFixture> {
  const config = stackConfig()
  const topic = uniqueName('rsvps-it')
  const groupId = uniqueName('ingest-it')
  // after-hooks run in the order they were added: the processes go before their database does.
  const processes = new Set<ChildProcess>()
  t.after(async () => {
    for (const child of processes) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await once(child, 'exit')
      }
    }
  })
  t.after(() => deleteTopics(config.kafka, [topic, `${topic}.dlq`]))
  const { url, db } = await createTestDatabase(t)
  // Migrated here too, so the test can read the tables before the first ingest process is up.
  await migrate(db, { logger: silentLogger })
  await ensureTopics(config.kafka, [
    { name: topic, partitions, ...(options.topicConfigs && { configs: options.topicConfigs }) },
    { name: `${topic}.dlq`, partitions },
  ])
  const env = {
    ...process.env,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: groupId,
    KAFKA_PARTITIONS: String(partitions),
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    DATABASE_URL: url,
    LOG_LEVEL: process.env.TEST_INGEST_LOG_LEVEL ?? 'warn',
  }
  return { topic, groupId, databaseUrl: url, db, env, processes }
}

export interface IngestProcess {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** http://127.0.0.1:port of its HTTP server (the API, or /metrics and /readyz of `ingest`) */
  readonly base: string
  output(): string
  /** Resolves once /readyz answers 200: every dependency reached, signal handlers in place. */
  ready(): Promise<void>
}

/** Starts `rsvp-topk ingest`; the fixture's cleanup kills it if it is still running. */
export function startIngest(fixture: IngestFixture, env: NodeJS.ProcessEnv = {}): Promise<IngestProcess> {
  return startCommand(fixture, 'ingest', env)
}

/**
 * Starts an `rsvp-topk` command with the fixture's environment (and `env` on top), its HTTP
 * server on a free port.
 */
export async function startCommand(
  fixture: IngestFixture,
  command: 'ingest' | 'serve' | 'api',
  env: NodeJS.ProcessEnv = {},
): Promise<IngestProcess> {
  const portVariable = command === 'ingest' ? 'METRICS_PORT' : 'HTTP_PORT'
  const port = env[portVariable] ?? String(await freePort())
  const child = spawn(process.execPath, [BIN, command], {
    env: { ...fixture.env, [portVariable]: port, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  fixture.processes.add(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }))
  const base = `http://127.0.0.1:${port}`
  let stopped = false
  void exited.then(() => {
    stopped = true
  })
  return {
    child,
    exited,
    base,
    output: () => output,
    ready: async () => {
      const state = await waitFor(
        `${command} to be ready`,
        async () => (stopped ? 'exited' : (await get(base, '/readyz')).status === 200 ? 'ready' : undefined),
        180_000,
      )
      if (state === 'exited') throw new Error(`${command} exited before it was ready:\n${output.slice(-3000)}`)
    },
  }
}

/** A message to send: a GeneratedMessage, or any bytes (non-UTF-8, null for a tombstone). */
export interface StreamMessage {
  readonly key?: string | Buffer | undefined
  readonly value: StreamValue
}

/**
 * Sends `messages` to the fixture's topic in order, `chunk` at a time, as fast as Kafka takes
 * them or paced at `ratePerSecond`. The producer retries without limit, so a send rides out a
 * broker restart.
 */
export async function produce(
  fixture: Pick<IngestFixture, 'topic'>,
  messages: readonly StreamMessage[],
  chunk = 5000,
  options: { readonly ratePerSecond?: number } = {},
): Promise<void> {
  const producer = createRawProducer(stackConfig().kafka)
  const started = performance.now()
  const bytes = (value: string | Buffer) => (typeof value === 'string' ? Buffer.from(value) : value)
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.send(
        messages.slice(i, i + chunk).map((m) => ({
          topic: fixture.topic,
          key: m.key === undefined ? undefined : bytes(m.key),
          value: m.value === null ? null : bytes(m.value),
        })),
      )
      if (options.ratePerSecond !== undefined) {
        const due = started + ((i + chunk) / options.ratePerSecond) * 1000
        if (due > performance.now()) await sleep(due - performance.now())
      }
    }
  } finally {
    await producer.close()
  }
}

/**
 * Waits until the database holds exactly what the contract says for `messages`, then asserts
 * there is no difference left (a failure lists a few of them).
 */
export function assertConverges(
  fixture: IngestFixture,
  messages: readonly GeneratedMessage[],
  timeoutMs = 120_000,
): Promise<void> {
  return assertStoreMatchesContract(fixture.db, messages, timeoutMs)
}

/**
 * Waits (up to timeoutMs) until the database holds what the counting contract says for the
 * messages, then asserts every count, per-day and per-hour count and the details.
 */
export async function assertStoreMatchesContract(
  db: Postgres,
  messages: readonly { readonly value: StreamValue }[],
  timeoutMs: number,
): Promise<void> {
  const { differences } = await waitForContract(
    db,
    messages.map((m) => m.value),
    timeoutMs,
  )
  assert.deepEqual(differences, [], 'the database holds what the counting contract says')
}
