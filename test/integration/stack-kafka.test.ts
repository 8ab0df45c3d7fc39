import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ErrorCodes, isAppError } from '../../src/errors.ts'
import {
  type ConsumedMessage,
  createGroupConsumer,
  createRawProducer,
  deleteTopics,
  describeTopics,
  ensureTopics,
  type GroupConsumer,
} from '../../src/kafka/client.ts'
import { createTestDatabase, stackConfig, uniqueName } from '../helpers.ts'

const BIN = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))

/** Reads until `count` messages arrived (or the deadline passes), committing each one it keeps. */
async function take(consumer: GroupConsumer, count: number, timeoutMs = 30_000): Promise<ConsumedMessage[]> {
  const taken: ConsumedMessage[] = []
  const deadline = setTimeout(() => void consumer.close(), timeoutMs)
  try {
    for await (const message of consumer.messages) {
      taken.push(message)
      await message.commit()
      if (taken.length === count) break
    }
  } finally {
    clearTimeout(deadline)
  }
  return taken
}

describe('local Kafka broker', () => {
  test('ensureTopics should create a 6-partition topic, and leave it as it is when called again', async () => {
    const config = stackConfig()
    const topic = uniqueName('stack-topic')
    const created = await ensureTopics(config.kafka, [{ name: topic, partitions: 6 }])
    assert.deepEqual(created, [topic])
    assert.equal((await describeTopics(config.kafka, [topic])).get(topic), 6)
    assert.deepEqual(await ensureTopics(config.kafka, [{ name: topic, partitions: 3 }]), [])
    assert.equal((await describeTopics(config.kafka, [topic])).get(topic), 6)
  })

  test("ensureTopics should give up at once on a name the broker refuses, with the broker's reason", async (t) => {
    const config = stackConfig()
    // Kafka refuses a name that differs from an existing topic's only in '.' against '_'.
    const existing = uniqueName('refused')
    const colliding = existing.replaceAll('_', '.')
    t.after(() => deleteTopics(config.kafka, [existing]))
    await ensureTopics(config.kafka, [{ name: existing, partitions: 1 }])
    await assert.rejects(
      ensureTopics(config.kafka, [{ name: colliding, partitions: 1 }]),
      (error: unknown) =>
        isAppError(error, ErrorCodes.CONFIG_INVALID) &&
        !error.retryable &&
        error.message.includes(`Kafka refused to create the topic ${colliding}: INVALID_TOPIC_EXCEPTION`) &&
        error.message.includes('collides with existing topic'),
    )
    await assert.rejects(describeTopics(config.kafka, [colliding]), /Unknown topic/)
  })

  test('rsvp-topk ingest should exit 1 naming the refusal when its topic cannot be created, not retry forever', async (t) => {
    const config = stackConfig()
    const existing = uniqueName('refused_ingest')
    t.after(() => deleteTopics(config.kafka, [existing]))
    await ensureTopics(config.kafka, [{ name: existing, partitions: 1 }])
    const { url } = await createTestDatabase(t)
    const child = spawn(process.execPath, [BIN, 'ingest'], {
      env: {
        ...process.env,
        KAFKA_TOPIC: existing.replaceAll('_', '.'),
        KAFKA_GROUP_ID: existing,
        DATABASE_URL: url,
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    t.after(() => child.kill('SIGKILL'))
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1, output.slice(-2000))
    assert.match(
      output,
      /Kafka refused to create the topic [^"]*: INVALID_TOPIC_EXCEPTION[^"]*collides with existing topic/,
    )
  })

  test('a consumer group with manual commits should resume from the committed offsets after a restart', async (t) => {
    const config = stackConfig()
    const topic = uniqueName('stack-resume')
    const groupId = uniqueName('stack-group')
    await ensureTopics(config.kafka, [{ name: topic, partitions: 6 }])

    const producer = createRawProducer(config.kafka)
    t.after(() => producer.close())
    const sent = Array.from({ length: 60 }, (_, i) => `message-${i}`)
    await producer.send(sent.map((value, i) => ({ topic, key: Buffer.from(`key-${i}`), value: Buffer.from(value) })))

    const first = await createGroupConsumer(config.kafka, { groupId, topics: [topic] })
    const firstHalf = await take(first, 25)
    await first.close()
    assert.equal(firstHalf.length, 25)
    assert.ok(new Set(firstHalf.map((m) => m.partition)).size >= 1)

    const second = await createGroupConsumer(config.kafka, { groupId, topics: [topic] })
    t.after(() => second.close())
    const rest = await take(second, 35)

    const seenFirst = firstHalf.map((m) => m.value?.toString())
    const seenRest = rest.map((m) => m.value?.toString())
    assert.deepEqual(
      seenRest.filter((v) => seenFirst.includes(v)),
      [],
      'a committed message must not be delivered again',
    )
    assert.deepEqual([...seenFirst, ...seenRest].sort(), [...sent].sort(), 'every message is delivered')
    // Within a partition, the restarted consumer starts right after the last committed offset.
    for (const partition of new Set(rest.map((m) => m.partition))) {
      const committed = firstHalf.filter((m) => m.partition === partition).map((m) => m.offset)
      const next = rest.filter((m) => m.partition === partition).map((m) => m.offset)
      // a partition's messages arrive in offset order, so the last committed one is the highest
      const last = committed.at(-1)
      const expected = last === undefined ? 0n : last + 1n
      assert.equal(next[0], expected, `partition ${partition} resumes at offset ${expected}`)
    }
  })
})
