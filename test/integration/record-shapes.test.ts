/**
 * Every shape a Kafka record may legally have, written by clients other than the service's own
 * producer path: the Java client from the broker's jars (as most real producers are), and the
 * Node client for what Java cannot write (header keys that are not UTF-8).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { createStallClock } from '../../src/ingest/stall-clock.ts'
import { createRawProducer, groupPosition } from '../../src/kafka/client.ts'
import type { GeneratedMessage } from '../../src/producer/generator.ts'
import { stackConfig, uniqueName } from '../helpers.ts'
import { waitFor } from '../support/http.ts'
import { assertConverges, createIngestFixture, ROOT, startIngest } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'
import { readDeadLetters } from '../support/topic-reader.ts'

const run = promisify(execFile)

/** The broker's jars: ./dev.sh exports where they are; a plain checkout has them under .local. */
function kafkaLibs(): string {
  if (process.env.RSVP_TOPK_KAFKA_LIBS) return process.env.RSVP_TOPK_KAFKA_LIBS
  const local = process.env.RSVP_TOPK_LOCAL_DIR ?? join(ROOT, '.local')
  const found = readdirSync(join(local, 'kafka')).find((name) => name.startsWith('libs-'))
  if (!found) throw new Error('the Kafka jars are missing: run ./dev.sh up')
  return join(local, 'kafka', found)
}

test('records of every legal shape never stop the consumer: usable RSVPs are counted, the rest dead-lettered with key and headers', async (t) => {
  const fixture = await createIngestFixture(t, 3)
  const valid = (rsvpId: number, eventId: string) => rsvpMessage({ rsvpId, eventId })
  const counted: GeneratedMessage[] = []
  const text = (message: GeneratedMessage) => {
    counted.push(message)
    return `text:${message.value}`
  }
  // key, value, then header name/value pairs (see RecordShapes.java for the field syntax)
  const lines = [
    ['null', text(valid(1, 'evA')), 'text:trace', 'null'],
    ['empty', text(valid(2, 'evA')), 'text:a', 'text:1', 'text:a', 'text:2', 'text:a', 'null'],
    ['repeat:300000:k', text(valid(3, 'evB'))],
    ['text:tomb', 'null', 'text:h', 'null'],
    ['null', 'empty'],
    ['text:k6', 'text:not json', 'text:h', 'null', 'text:h', 'empty'],
    ['empty', text(valid(7, 'evB')), 'empty', 'null', 'empty', 'empty'],
    ['text:k8', text(valid(8, 'evC')), ...Array.from({ length: 200 }, (_, i) => [`text:n${i % 3}`, 'null']).flat()],
  ]
  const file = join(tmpdir(), `${uniqueName('record-shapes')}.tsv`)
  writeFileSync(file, `${lines.map((fields) => fields.join('\t')).join('\n')}\n`)
  await writeWithJava(fixture.topic, file)
  // What Java cannot write: header keys that are not UTF-8, a null value under a binary key.
  const producer = createRawProducer(stackConfig().kafka)
  t.after(() => producer.close())
  const binary = valid(9, 'evC')
  counted.push(binary)
  await producer.send([
    {
      topic: fixture.topic,
      key: Buffer.from([0xff, 0x00, 0xfe]),
      value: Buffer.from(binary.value),
      headers: [
        { key: Buffer.from([0xff, 0xfe]), value: null },
        { key: Buffer.from([0xc3, 0x28]), value: Buffer.from([0x00, 0xff]) },
      ],
    },
    {
      topic: fixture.topic,
      key: Buffer.from([0x80]),
      value: null,
      headers: [{ key: Buffer.from([0xff]), value: null }],
    },
  ])

  await startIngest(fixture)
  await assertConverges(fixture, counted)

  const letters = await waitFor('four dead letters', async () => {
    const found = await readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`)
    return found.length >= 4 ? found : undefined
  })
  assert.equal(letters.length, 4)
  const byKey = new Map(letters.map((l) => [l.record.key?.toString('hex') ?? 'null', l]))
  const tomb = byKey.get(Buffer.from('tomb').toString('hex'))
  assert.equal(tomb?.reason, 'empty message')
  assert.equal(tomb?.record.value, null, 'a tombstone stays a tombstone')
  assert.deepEqual(
    tomb?.record.headers.slice(0, 1).map((h) => [h.key?.toString(), h.value]),
    [['h', null]],
  )
  assert.equal(byKey.get('null')?.reason, 'empty message')
  assert.equal(byKey.get('null')?.record.value?.length, 0, 'an empty value stays empty')
  const notJson = byKey.get(Buffer.from('k6').toString('hex'))
  assert.equal(notJson?.reason, 'not JSON')
  assert.deepEqual(
    notJson?.record.headers.slice(0, 2).map((h) => [h.key?.toString(), h.value?.toString() ?? null]),
    [
      ['h', null],
      ['h', ''],
    ],
    'the original headers, repeats and null values kept, in order',
  )
  const binaryKey = byKey.get('80')
  assert.equal(binaryKey?.reason, 'empty message')
  assert.deepEqual(binaryKey?.record.headers[0]?.key, Buffer.from([0xff]))
})

test('a topic written in transactions is counted, and the commit marker it ends with is not a stall', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const messages = [1, 2, 3].map((rsvpId) => rsvpMessage({ rsvpId, eventId: 'evT' }))
  const file = join(tmpdir(), `${uniqueName('record-shapes-tx')}.tsv`)
  writeFileSync(file, `${messages.map((m) => `text:${m.key}\ttext:${m.value}`).join('\n')}\n`)
  await writeWithJava(fixture.topic, file, 'transactional')
  await startIngest(fixture)
  await assertConverges(fixture, messages)
  // Everything is counted and committed, yet the broker's end offset is one past the committed
  // offset: the marker takes an offset that no consumer receives, so none can commit past it.
  const config = stackConfig()
  const position = await waitFor('the group to commit the last record', async () => {
    const positions = await groupPosition(config.kafka, fixture.groupId, fixture.topic)
    return positions.get(0)?.committed === messages.length ? positions : undefined
  })
  assert.deepEqual(position.get(0), { lag: 1, committed: messages.length })
  // The stall clock, fed this position now and ten minutes later, sees nothing waiting.
  let now = 0
  const stall = createStallClock(() => now)
  stall.group(position)
  now += 600_000
  stall.group(await groupPosition(config.kafka, fixture.groupId, fixture.topic))
  assert.equal(stall.stalledSeconds(), 0)
})

function writeWithJava(topic: string, file: string, ...flags: string[]) {
  return run(
    'java',
    [
      `-Dlog4j2.configurationFile=${join(ROOT, 'stack/kafka/log4j2.properties')}`,
      '-cp',
      `${kafkaLibs()}/*`,
      join(ROOT, 'test/support/java/RecordShapes.java'),
      stackConfig().kafka.brokers.join(','),
      topic,
      file,
      ...flags,
    ],
    { timeout: 120_000 },
  )
}
