import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type ConsumedMessage,
  createGroupConsumer,
  createRawProducer,
  describeTopics,
  ensureTopics,
  type GroupConsumer,
} from '../../src/kafka/client.ts'
import { stackConfig, uniqueName } from '../helpers.ts'

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
