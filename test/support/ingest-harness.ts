/**
 * Drives real `rsvp-topk ingest` processes against the local stack: each test gets its own topic,
 * consumer group and database, produces a generated stream, and compares what PostgreSQL holds
 * with the independent contract oracle.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createRawProducer, deleteTopics, ensureTopics } from '../../src/kafka/client.ts'
import type { GeneratedMessage } from '../../src/producer/generator.ts'
import { migrate } from '../../src/store/migrate.ts'
import type { Postgres } from '../../src/store/postgres.ts'
import { createTestDatabase, freePort, silentLogger, stackConfig, uniqueName } from '../helpers.ts'
import { computeExpected } from './contract-oracle.ts'
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
  t: TestContext,
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

export async function produce(
  fixture: IngestFixture,
  messages: readonly GeneratedMessage[],
  chunk = 5000,
): Promise<void> {
  const producer = createRawProducer(stackConfig().kafka)
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.send(
        messages.slice(i, i + chunk).map((m) => ({
          topic: fixture.topic,
          key: m.key === undefined ? undefined : Buffer.from(m.key),
          value: Buffer.from(m.value),
        })),
      )
    }
  } finally {
    await producer.close()
  }
}

interface StoredState {
  yes: Map<string, number>
  attendees: Map<string, number>
  yesByDay: Map<string, Map<string, number>>
  /** 'hour start (epoch ms) event_id' -> yes count */
  yesByHour: Map<string, number>
  rsvps: number
}

async function readState(db: Postgres): Promise<StoredState> {
  // Every row with a non-zero count: a count pushed below zero must show, not hide behind "> 0".
  const events = await db.query<{ event_id: string; yes_rsvps: number; attendees: number }>(
    'SELECT event_id, yes_rsvps, attendees FROM events WHERE yes_rsvps <> 0 OR attendees <> 0',
  )
  const days = await db.query<{ day: string; event_id: string; yes_rsvps: number }>(
    "SELECT to_char(day, 'YYYY-MM-DD') AS day, event_id, yes_rsvps FROM event_day_counts WHERE yes_rsvps <> 0 OR attendees <> 0",
  )
  const hours = await db.query<{ hour_start: number; event_id: string; yes_rsvps: number }>(
    'SELECT hour_start, event_id, yes_rsvps FROM event_hour_counts WHERE yes_rsvps <> 0 OR attendees <> 0',
  )
  const rsvps = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rsvps')
  const yesByDay = new Map<string, Map<string, number>>()
  for (const row of days.rows) {
    if (!yesByDay.has(row.day)) yesByDay.set(row.day, new Map())
    yesByDay.get(row.day)?.set(row.event_id, row.yes_rsvps)
  }
  return {
    yes: new Map(events.rows.map((r) => [r.event_id, r.yes_rsvps])),
    attendees: new Map(events.rows.map((r) => [r.event_id, r.attendees])),
    yesByDay,
    yesByHour: new Map(hours.rows.map((r) => [`${r.hour_start} ${r.event_id}`, r.yes_rsvps])),
    rsvps: rsvps.rows[0]?.n ?? 0,
  }
}

/** The same as the stored hour counts, from the oracle's current versions. */
function yesByHour(expected: ReturnType<typeof computeExpected>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const version of expected.current.values()) {
    if (version.response !== 'yes') continue
    const key = `${Math.floor(version.mtime / 3_600_000) * 3_600_000} ${version.eventId}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}

function positive(map: Map<string, number>): Map<string, number> {
  return new Map([...map].filter(([, n]) => n > 0))
}

/**
 * Waits until the database holds exactly what the contract says for `messages`, then asserts it
 * field by field (so a failure shows the difference).
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
  messages: readonly GeneratedMessage[],
  timeoutMs: number,
): Promise<void> {
  const expected = computeExpected(messages.map((m) => m.value))
  const expectedYes = positive(expected.yes)
  const expectedAttendees = new Map([...expected.attendees].filter(([id]) => expectedYes.has(id)))
  const expectedByDay = new Map(
    [...expected.yesByDay].map(([day, m]) => [day, positive(m)] as const).filter(([, m]) => m.size > 0),
  )
  const deadline = Date.now() + timeoutMs
  let state = await readState(db)
  while (Date.now() < deadline) {
    if (state.rsvps === expected.current.size && sameMap(state.yes, expectedYes)) break
    await sleep(250)
    state = await readState(db)
  }
  assert.equal(state.rsvps, expected.current.size, 'every distinct valid RSVP is stored once')
  assert.deepEqual(state.yes, expectedYes, 'yes counts per event')
  assert.deepEqual(state.attendees, expectedAttendees, 'attendees per event')
  assert.deepEqual(state.yesByDay, expectedByDay, 'yes counts per event and UTC day')
  assert.deepEqual(state.yesByHour, yesByHour(expected), 'yes counts per event and UTC hour')
  await assertDetails(db, expected)
}

/** Rule 5: each event's and group's details are those of its newest message. */
async function assertDetails(db: Postgres, expected: ReturnType<typeof computeExpected>): Promise<void> {
  const events = await db.query<{
    event_id: string
    details_mtime: number
    name: string | null
    time_ms: number | null
    group_id: number | null
    venue_id: number | null
  }>('SELECT event_id, details_mtime, name, time_ms, group_id, venue_id FROM events')
  const stored = new Map(events.rows.map((row) => [row.event_id, row]))
  assert.equal(stored.size, expected.events.size, 'one events row per event named by a valid message')
  for (const [eventId, want] of expected.events) {
    if (expected.ambiguous.events.has(eventId)) continue
    const row = stored.get(eventId)
    assert.deepEqual(
      row && {
        mtime: row.details_mtime,
        name: row.name,
        time: row.time_ms,
        groupId: row.group_id,
        venueId: row.venue_id,
      },
      {
        mtime: want.mtime,
        name: want.name ?? null,
        time: want.time ?? null,
        groupId: want.groupId ?? null,
        venueId: want.venueId ?? null,
      },
      `details of event ${eventId}`,
    )
  }
  const groups = await db.query<{ group_id: number; mtime: number; name: string | null; city: string | null }>(
    'SELECT group_id, mtime, name, city FROM groups',
  )
  assert.equal(groups.rows.length, expected.groups.size, 'one groups row per group')
  for (const row of groups.rows) {
    if (expected.ambiguous.groups.has(row.group_id)) continue
    const want = expected.groups.get(row.group_id)
    assert.deepEqual(
      { mtime: row.mtime, name: row.name, city: row.city },
      { mtime: want?.mtime, name: want?.name ?? null, city: want?.city ?? null },
      `details of group ${row.group_id}`,
    )
  }
}

function sameMap(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false
  for (const [key, value] of a) if (b.get(key) !== value) return false
  return true
}
