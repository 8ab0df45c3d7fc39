/**
 * KAFKA_REPLICATION_FACTOR against the local single-broker stack: topics get one replica and no
 * topic-level min.insync.replicas by default (as before replication), and a factor larger than the
 * brokers stops ensureTopics and `rsvp-topk produce` with a message naming the broker count. The
 * replicated path itself (3 brokers, a broker killed) is `./dev.sh chaos --cluster`.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ErrorCodes, isAppError } from '../../src/errors.ts'
import { deleteTopics, describeReplicas, ensureTopics, liveBrokers, topicSettings } from '../../src/kafka/client.ts'
import { stackConfig, uniqueName } from '../helpers.ts'

const BIN = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))

describe('Kafka replication on the single-broker stack', () => {
  test('ensureTopics should give each partition one replica and leave min.insync.replicas to the broker', async (t) => {
    const kafka = stackConfig().kafka
    const topic = uniqueName('replication-default')
    t.after(() => deleteTopics(kafka, [topic]))
    assert.deepEqual(await liveBrokers(kafka), [1])
    await ensureTopics(kafka, [{ name: topic, partitions: 3 }])
    const partitions = await describeReplicas(kafka, topic)
    assert.equal(partitions.length, 3)
    for (const partition of partitions) {
      assert.deepEqual(partition.replicas, [1])
      assert.deepEqual(partition.isr, [1])
    }
    assert.deepEqual(await topicSettings(kafka, topic, ['min.insync.replicas']), { 'min.insync.replicas': '1' })
  })

  test('ensureTopics should refuse KAFKA_REPLICATION_FACTOR=3 on one broker, naming it, and create nothing', async (t) => {
    const kafka = stackConfig({ KAFKA_REPLICATION_FACTOR: '3' }).kafka
    const topic = uniqueName('replication-too-many')
    t.after(() => deleteTopics(kafka, [topic]))
    await assert.rejects(
      ensureTopics(kafka, [{ name: topic, partitions: 1 }]),
      (error: unknown) =>
        isAppError(error, ErrorCodes.CONFIG_INVALID) &&
        /KAFKA_REPLICATION_FACTOR is 3, but the Kafka cluster at .+ has 1 live broker/.test(error.message),
    )
    await assert.rejects(describeReplicas(kafka, topic), /Unknown topic/)
  })

  test('rsvp-topk produce should exit 1 with that message when the factor is larger than the brokers', async () => {
    const topic = uniqueName('replication-produce')
    const child = spawn(process.execPath, [BIN, 'produce', '--generate', '10', '--topic', topic, '--no-progress'], {
      env: { ...process.env, KAFKA_REPLICATION_FACTOR: '2', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, /KAFKA_REPLICATION_FACTOR is 2, but the Kafka cluster at .+ has 1 live broker/)
  })
})
