/**
 * The limits under the ingest figure, measured on the same generated messages:
 * - raw consume: the Kafka client reading the topic and discarding every message;
 * - raw COPY: PostgreSQL COPY of the same RSVP rows into a plain table without indexes (the
 *   storage's own write limit on this machine);
 * - the upsert floor: the cheapest exact thing PostgreSQL can do with the same rows (below).
 *
 * The upsert floor. The ingest keeps, per rsvp_id, the version with the greatest mtime (rule 1 of
 * docs/contract.md) in a logged table keyed by rsvp_id, and maintains counts and details on top.
 * The floor does only the first part, in the way PostgreSQL does it cheapest: COPY every valid
 * parsed row (rsvp_id, mtime, event_id, response, guests: what the ingest would write, every
 * version) into an UNLOGGED staging table, then one
 *   INSERT INTO keyed … SELECT DISTINCT ON (rsvp_id) … ORDER BY rsvp_id, mtime DESC
 *   ON CONFLICT (rsvp_id) DO UPDATE … WHERE excluded.mtime > keyed.mtime
 * into a logged table with a primary key, like the real `rsvps` (without its mtime index, which
 * only windows need; no counts, no details, no Kafka). The stream holds several versions per RSVP
 * and one INSERT … ON CONFLICT may not touch a row twice (SQLSTATE 21000), so the reduction to
 * the newest version per rsvp_id happens inside the statement and is part of the floor's cost. The
 * keyed table starts empty, as the ingest's fresh database does, so the conflict arm decides
 * nothing here; it stays so the statement is the one a running service would need. One
 * transaction and one commit for the whole stream, where the ingest commits batch by batch. In
 * the generated stream two versions of one RSVP with the same mtime are byte-identical resends,
 * so which of them DISTINCT ON keeps changes nothing; the result is checked against the newest
 * version per rsvp_id worked out here. Timed from the first byte of COPY to COMMIT, with the
 * server's own settings (work_mem and so on, as the ingest gets them), and reported per valid
 * message (every version, before the reduction). The ingest figure divides all messages, the ~1%
 * invalid ones included, by its time, so ingest / floor reads about 1% in the ingest's favour.
 *
 *   eval "$(./dev.sh env)" && node bench/raw-throughput.ts [--messages 1000000]
 *
 * Writes bench/results/raw.json: raw_consume_msgs_per_s, raw_copy_rows_per_s,
 * upsert_floor_rows_per_s (and the floor's parts).
 */
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { type Config, loadConfig } from '../src/config.ts'
import { parseRsvp } from '../src/domain/parse-rsvp.ts'
import { createGroupConsumer, deleteTopics } from '../src/kafka/client.ts'
import { type GeneratorOptions, generateStream } from '../src/producer/generator.ts'
import { createPostgres, type Postgres } from '../src/store/postgres.ts'
import {
  createFreshDatabase,
  type FreshDatabase,
  fillTopic,
  type GeneratedStreamOptions,
  machine,
  silent,
  withGeneratedStreamOptions,
} from './support.ts'

export interface RawResult {
  readonly raw_consume_msgs_per_s: number
  readonly raw_copy_rows_per_s: number
  /** valid RSVP messages (parsed rows, every version) per second through COPY + one upsert */
  readonly upsert_floor_rows_per_s: number
  readonly upsert_floor_unit: string
  readonly upsert_floor_rows: number
  readonly upsert_floor_distinct_rsvps: number
  readonly upsert_floor_seconds: number
  readonly upsert_floor_copy_seconds: number
  readonly upsert_floor_upsert_seconds: number
}

/** One valid message as the ingest would store it. */
interface Row {
  readonly rsvpId: number
  readonly mtime: number
  readonly eventId: string
  readonly response: string
  readonly guests: number
}

const COLUMNS = 'rsvp_id, mtime, event_id, response, guests'

export async function runRawBench(options: GeneratedStreamOptions): Promise<RawResult> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
  const run = `raw_${Date.now().toString(36)}`
  const stream = { count: options.messages, seed: options.seed, events: options.events }
  console.log(`raw: producing ${options.messages.toLocaleString('en')} messages to ${run} …`)
  await fillTopic(config, run, stream)
  let database: FreshDatabase | undefined
  try {
    const raw_consume_msgs_per_s = await rawConsume(config, run, options.messages)
    // The rows the ingest would write for these messages, prepared before any clock starts.
    const rows = validRows(stream)
    const lines = rows.map(copyLine)
    database = await createFreshDatabase(config, run)
    const db = createPostgres({ url: database.url, poolSize: 1 }, { logger: silent })
    try {
      const raw_copy_rows_per_s = await rawCopy(db, lines)
      const floor = await upsertFloor(db, rows, lines)
      return { raw_consume_msgs_per_s, raw_copy_rows_per_s, ...floor }
    } finally {
      await db.close()
    }
  } finally {
    await database?.drop()
    await deleteTopics(config.kafka, [run, `${run}.dlq`])
  }
}

/** The Kafka client alone: every message read and dropped, timed from the first one. */
async function rawConsume(config: Config, topic: string, messages: number): Promise<number> {
  const consumer = await createGroupConsumer(config.kafka, { groupId: topic, topics: [topic] })
  let seen = 0
  let bytes = 0
  let started = 0
  for await (const message of consumer.messages) {
    if (seen === 0) started = performance.now()
    bytes += message.value?.length ?? 0
    if (++seen === messages) break
  }
  const seconds = (performance.now() - started) / 1000
  await consumer.close()
  const perSecond = Math.round(messages / seconds)
  console.log(
    `raw consume: ${perSecond.toLocaleString('en')} msgs/s (${(bytes / 2 ** 20).toFixed(0)} MB in ${seconds.toFixed(1)} s)`,
  )
  return perSecond
}

function validRows(stream: GeneratorOptions): Row[] {
  const rows: Row[] = []
  for (const message of generateStream(stream)) {
    const parsed = parseRsvp(message.value)
    if (!parsed.ok) continue
    const r = parsed.rsvp
    rows.push({ rsvpId: r.rsvpId, mtime: r.mtime, eventId: r.event.eventId, response: r.response, guests: r.guests })
  }
  return rows
}

/** A row in COPY's text format; text columns escape what would end a field or a line. */
function copyLine(row: Row): string {
  return `${row.rsvpId}\t${row.mtime}\t${copyText(row.eventId)}\t${copyText(row.response)}\t${row.guests}\n`
}

function copyText(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => `\\${c === '\t' ? 't' : c === '\n' ? 'n' : c === '\r' ? 'r' : '\\'}`)
}

/** Streams `lines` into `table` in chunks of 5,000 rows, as one COPY. */
async function copyLines(client: pg.PoolClient, table: string, lines: readonly string[]): Promise<void> {
  const chunks = (function* () {
    for (let i = 0; i < lines.length; i += 5000) yield lines.slice(i, i + 5000).join('')
  })()
  await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`)))
}

async function rawCopy(db: Postgres, lines: readonly string[]): Promise<number> {
  // raw_rsvps stays until the database is dropped: dropping it before the floor would add I/O to its clock.
  await db.query('CREATE TABLE raw_rsvps (rsvp_id bigint, mtime bigint, event_id text, response text, guests integer)')
  const client = await db.connect()
  try {
    const started = performance.now()
    await copyLines(client, 'raw_rsvps', lines)
    const seconds = (performance.now() - started) / 1000
    const perSecond = Math.round(lines.length / seconds)
    console.log(
      `raw COPY: ${perSecond.toLocaleString('en')} rows/s (${lines.length.toLocaleString('en')} rows in ${seconds.toFixed(1)} s)`,
    )
    return perSecond
  } finally {
    client.release()
  }
}

// Like the real rsvps table (migrations/0001, 0005): logged, keyed by rsvp_id, fillfactor 90.
const KEYED_TABLE = `CREATE TABLE keyed (
  rsvp_id  bigint  PRIMARY KEY,
  mtime    bigint  NOT NULL,
  event_id text    COLLATE "C" NOT NULL,
  response text    NOT NULL,
  guests   integer NOT NULL CHECK (guests >= 0)
) WITH (fillfactor = 90)`

const STAGING_TABLE = `CREATE UNLOGGED TABLE staging (
  rsvp_id bigint, mtime bigint, event_id text COLLATE "C", response text, guests integer
)`

// The newest version per rsvp_id: one statement may touch a row once (SQLSTATE 21000 otherwise).
const UPSERT = `INSERT INTO keyed (${COLUMNS})
  SELECT DISTINCT ON (rsvp_id) ${COLUMNS} FROM staging ORDER BY rsvp_id, mtime DESC
  ON CONFLICT (rsvp_id) DO UPDATE
    SET mtime = excluded.mtime, event_id = excluded.event_id, response = excluded.response, guests = excluded.guests
    WHERE excluded.mtime > keyed.mtime`

async function upsertFloor(
  db: Postgres,
  rows: readonly Row[],
  lines: readonly string[],
): Promise<Omit<RawResult, 'raw_consume_msgs_per_s' | 'raw_copy_rows_per_s'>> {
  await db.query(KEYED_TABLE)
  await db.query(STAGING_TABLE)
  const client = await db.connect()
  let copySeconds: number
  let seconds: number
  let upserted: number
  try {
    await client.query('BEGIN')
    const started = performance.now()
    await copyLines(client, 'staging', lines)
    copySeconds = (performance.now() - started) / 1000
    upserted = (await client.query(UPSERT)).rowCount ?? 0
    await client.query('COMMIT')
    seconds = (performance.now() - started) / 1000
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
  await checkKeyed(db, rows, upserted)
  const result = {
    upsert_floor_rows_per_s: Math.round(rows.length / seconds),
    upsert_floor_unit: 'valid RSVP messages per second (every parsed version, before the newest-per-rsvp reduction)',
    upsert_floor_rows: rows.length,
    upsert_floor_distinct_rsvps: upserted,
    upsert_floor_seconds: round2(seconds),
    upsert_floor_copy_seconds: round2(copySeconds),
    upsert_floor_upsert_seconds: round2(seconds - copySeconds),
  }
  console.log(
    `upsert floor: ${result.upsert_floor_rows_per_s.toLocaleString('en')} valid messages/s (${rows.length.toLocaleString('en')} rows → ${upserted.toLocaleString('en')} RSVPs in ${seconds.toFixed(1)} s: COPY ${copySeconds.toFixed(1)} s, upsert + commit ${(seconds - copySeconds).toFixed(1)} s)`,
  )
  return result
}

/** Only an exact floor counts: the keyed table must hold the newest version of every RSVP, to the byte. */
async function checkKeyed(db: Postgres, rows: readonly Row[], upserted: number): Promise<void> {
  const newest = new Map<number, Row>()
  for (const row of rows) {
    const current = newest.get(row.rsvpId)
    // Equal or older changes nothing (rule 1), so the first of equal versions stays.
    if (current === undefined || row.mtime > current.mtime) newest.set(row.rsvpId, row)
  }
  const expected = createHash('md5')
  for (const row of [...newest.values()].sort((a, b) => a.rsvpId - b.rsvpId)) {
    expected.update(`${row.rsvpId}\t${row.mtime}\t${row.eventId}\t${row.response}\t${row.guests}\n`)
  }
  const actual = await db.query<{ md5: string | null }>(
    `SELECT md5(string_agg(concat_ws(E'\\t', ${COLUMNS}) || E'\\n', '' ORDER BY rsvp_id)) AS md5 FROM keyed`,
  )
  const want = expected.digest('hex')
  const got = actual.rows[0]?.md5
  if (upserted !== newest.size || got !== want) {
    throw new Error(
      `upsert floor is not exact: ${upserted} rows upserted for ${newest.size} RSVPs, md5 ${got} where ${want} was expected`,
    )
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = withGeneratedStreamOptions(
    new Command('raw-throughput').description(
      'The limits under the ingest figure on the same generated messages: raw consume (the Kafka client reading and discarding), raw COPY into a plain table, and the upsert floor (COPY into staging + one INSERT … ON CONFLICT … WHERE newer), checked exact.',
    ),
    'generated messages',
  )
    .addHelpText('after', '\nRun inside eval "$(./dev.sh env)". Writes bench/results/raw.json (BENCHMARKS.md).')
    .parse()
    .opts<GeneratedStreamOptions>()
  const result = await runRawBench(opts)
  const file = fileURLToPath(new URL('./results/raw.json', import.meta.url))
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine() }, null, 2)}\n`)
  console.log('written: bench/results/raw.json')
}
