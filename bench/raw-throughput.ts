/**
 * The limits under the ingest figure, measured on the same generated messages:
 * - raw consume: the Kafka client reading the topic and discarding every message;
 * - raw COPY: PostgreSQL COPY of the same RSVP rows into a plain table without indexes (the
 *   storage's own write limit on this machine).
 *
 *   eval "$(./dev.sh env)" && node bench/raw-throughput.ts [--messages 1000000]
 *
 * Writes bench/results/raw.json: raw_consume_msgs_per_s, raw_copy_rows_per_s.
 */
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { from as copyFrom } from 'pg-copy-streams'
import { loadConfig } from '../src/config.ts'
import { parseRsvp } from '../src/domain/parse-rsvp.ts'
import { createGroupConsumer, deleteTopics } from '../src/kafka/client.ts'
import { generateStream } from '../src/producer/generator.ts'
import { createPostgres } from '../src/store/postgres.ts'
import { createFreshDatabase, fillTopic, machine, silent } from './support.ts'

export interface RawResult {
  readonly raw_consume_msgs_per_s: number
  readonly raw_copy_rows_per_s: number
}

export async function runRawBench(options: { messages: number; seed: number; events: number }): Promise<RawResult> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
  const run = `raw_${Date.now().toString(36)}`
  const stream = { count: options.messages, seed: options.seed, events: options.events }
  console.log(`raw: producing ${options.messages.toLocaleString('en')} messages to ${run} …`)
  await fillTopic(config, run, stream)

  const consumer = await createGroupConsumer(config.kafka, { groupId: run, topics: [run] })
  let seen = 0
  let bytes = 0
  let started = 0
  for await (const message of consumer.messages) {
    if (seen === 0) started = performance.now()
    bytes += message.value?.length ?? 0
    if (++seen === options.messages) break
  }
  const consumeSeconds = (performance.now() - started) / 1000
  await consumer.close()
  const raw_consume_msgs_per_s = Math.round(options.messages / consumeSeconds)
  console.log(
    `raw consume: ${raw_consume_msgs_per_s.toLocaleString('en')} msgs/s (${(bytes / 2 ** 20).toFixed(0)} MB in ${consumeSeconds.toFixed(1)} s)`,
  )

  // The rows the ingest would write for these messages, prepared before the clock starts.
  const lines: string[] = []
  for (const message of generateStream(stream)) {
    const parsed = parseRsvp(message.value)
    if (!parsed.ok) continue
    const r = parsed.rsvp
    const eventId = r.event.eventId.replace(
      /[\\\t\n\r]/g,
      (c) => `\\${c === '\t' ? 't' : c === '\n' ? 'n' : c === '\r' ? 'r' : '\\'}`,
    )
    lines.push(`${r.rsvpId}\t${r.mtime}\t${eventId}\t${r.response}\t${r.guests}\n`)
  }
  const database = await createFreshDatabase(config, run)
  const db = createPostgres({ url: database.url, poolSize: 1 }, { logger: silent })
  let raw_copy_rows_per_s = 0
  try {
    await db.query(
      'CREATE TABLE raw_rsvps (rsvp_id bigint, mtime bigint, event_id text, response text, guests integer)',
    )
    const client = await db.connect()
    try {
      const copyStarted = performance.now()
      const chunks = (function* () {
        for (let i = 0; i < lines.length; i += 5000) yield lines.slice(i, i + 5000).join('')
      })()
      await pipeline(Readable.from(chunks), client.query(copyFrom('COPY raw_rsvps FROM STDIN')))
      const copySeconds = (performance.now() - copyStarted) / 1000
      raw_copy_rows_per_s = Math.round(lines.length / copySeconds)
      console.log(
        `raw COPY: ${raw_copy_rows_per_s.toLocaleString('en')} rows/s (${lines.length.toLocaleString('en')} rows in ${copySeconds.toFixed(1)} s)`,
      )
    } finally {
      client.release()
    }
  } finally {
    await db.close()
    await database.drop()
    await deleteTopics(config.kafka, [run, `${run}.dlq`])
  }
  return { raw_consume_msgs_per_s, raw_copy_rows_per_s }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '7' },
      events: { type: 'string', default: '100000' },
    },
  })
  const result = await runRawBench({
    messages: Number(values.messages),
    seed: Number(values.seed),
    events: Number(values.events),
  })
  const file = fileURLToPath(new URL('./results/raw.json', import.meta.url))
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine() }, null, 2)}\n`)
  console.log('written: bench/results/raw.json')
}
