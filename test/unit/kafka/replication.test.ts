import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadKafkaConfig } from '../../../src/config.ts'
import { ErrorCodes, isAppError } from '../../../src/errors.ts'
import { defaultReplicationFactor, topicReplication } from '../../../src/kafka/replication.ts'

describe('defaultReplicationFactor', () => {
  test('should be min(3, brokers), and 1 for a cluster that names none', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 9].map((brokers) => defaultReplicationFactor(brokers)),
      [1, 1, 2, 3, 3, 3],
    )
  })
})

describe('topicReplication', () => {
  test('should give a single broker one replica and no topic settings (the local stack as before)', () => {
    assert.deepEqual(topicReplication(undefined, 1), { factor: 1, configs: {} })
  })

  test('should give three brokers three replicas of which two must be in sync', () => {
    assert.deepEqual(topicReplication(undefined, 3), { factor: 3, configs: { 'min.insync.replicas': '2' } })
    assert.deepEqual(topicReplication(3, 5), { factor: 3, configs: { 'min.insync.replicas': '2' } })
  })

  test('should take a configured factor up to the brokers seen, min.insync.replicas only with 3', () => {
    assert.deepEqual(topicReplication(1, 3), { factor: 1, configs: {} })
    assert.deepEqual(topicReplication(2, 2), { factor: 2, configs: {} })
    assert.deepEqual(topicReplication(undefined, 2), { factor: 2, configs: {} })
  })

  test('should refuse a factor larger than the brokers seen, naming both numbers', () => {
    assert.throws(
      () => topicReplication(3, 1, '127.0.0.1:29092'),
      (error: unknown) =>
        isAppError(error, ErrorCodes.CONFIG_INVALID) &&
        error.retryable === false &&
        /KAFKA_REPLICATION_FACTOR is 3, but the Kafka cluster at 127\.0\.0\.1:29092 has 1 live broker:/.test(
          error.message,
        ) &&
        /at most 1/.test(error.message),
    )
    assert.throws(() => topicReplication(4, 3), /has 3 live brokers/)
  })
})

describe('KAFKA_REPLICATION_FACTOR', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:29092' }

  test('should be undefined when unset or empty (the default is decided from the cluster)', () => {
    assert.equal(loadKafkaConfig(base).replicationFactor, undefined)
    assert.equal(loadKafkaConfig({ ...base, KAFKA_REPLICATION_FACTOR: '' }).replicationFactor, undefined)
  })

  test('should take a positive integer', () => {
    assert.equal(loadKafkaConfig({ ...base, KAFKA_REPLICATION_FACTOR: '3' }).replicationFactor, 3)
  })

  test('should refuse 0, words and fractions with a clear message', () => {
    for (const value of ['0', 'three', '1.5', '-1']) {
      assert.throws(
        () => loadKafkaConfig({ ...base, KAFKA_REPLICATION_FACTOR: value }),
        new RegExp(`KAFKA_REPLICATION_FACTOR must be an integer from 1 to 32767, not '${value.replace('.', '\\.')}'`),
      )
    }
  })
})
