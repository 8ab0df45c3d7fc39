import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig, loadKafkaConfig } from '../../src/config.ts'
import { ErrorCodes, isAppError } from '../../src/errors.ts'
import { problemsOf } from '../support/config-problems.ts'

const valid = {
  KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9093',
  DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:5432/rsvps',
  REDIS_RING: 'redis://u:p1@127.0.0.1:7001,redis://u:p2@127.0.0.1:7002,redis://u:p3@127.0.0.1:7003',
}

describe('loadConfig', () => {
  test('should apply the documented defaults', () => {
    const config = loadConfig(valid)
    assert.deepEqual(config.kafka.brokers, ['127.0.0.1:9092', '127.0.0.1:9093'])
    assert.equal(config.kafka.topic, 'rsvps')
    assert.equal(config.kafka.dlqTopic, 'rsvps.dlq')
    assert.equal(config.kafka.groupId, 'rsvp-topk')
    assert.equal(config.kafka.partitions, 6)
    assert.equal(config.http.port, 8088)
    assert.equal(config.http.maxK, 1000)
    assert.equal(config.redis.ring.length, 3)
    assert.deepEqual(
      config.redis.ring.map((n) => n.id),
      ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
    )
    assert.equal(config.redis.ring[1]?.password, 'p2')
    assert.equal(config.logLevel, 'info')
  })

  test('should list every problem at once', () => {
    const problems = problemsOf({ KAFKA_PARTITIONS: 'six', HTTP_PORT: '70000', LOG_LEVEL: 'loud' })
    assert.ok(problems.some((p) => p.startsWith('KAFKA_BROKERS')))
    assert.ok(problems.some((p) => p.startsWith('DATABASE_URL')))
    assert.ok(problems.some((p) => p.startsWith('REDIS_RING')))
    assert.ok(problems.includes("KAFKA_PARTITIONS must be an integer from 1 to 10000, not 'six'"))
    assert.ok(problems.includes("HTTP_PORT must be an integer from 0 to 65535, not '70000'"))
    assert.ok(problems.some((p) => p.startsWith('LOG_LEVEL must be one of')))
    assert.equal(problems.length, 6)
  })

  test('should reject malformed brokers, URLs and topic names', () => {
    const problems = problemsOf({
      KAFKA_BROKERS: 'localhost',
      DATABASE_URL: 'mysql://x@y/z',
      REDIS_RING: 'redis://a@h:1,not a url',
      KAFKA_TOPIC: 'bad topic!',
    })
    assert.ok(problems.includes("KAFKA_BROKERS: 'localhost' is not host:port"))
    assert.ok(problems.some((p) => p.includes('DATABASE_URL must start with postgres://')))
    assert.ok(problems.some((p) => p.includes('REDIS_RING entry 2 is not a URL')))
    assert.ok(problems.some((p) => p.startsWith('KAFKA_TOPIC must be')))
  })

  test("should reject the topic names '.' and '..', which Kafka refuses, and allow dots inside a name", () => {
    for (const topic of ['.', '..']) {
      assert.ok(
        problemsOf({ KAFKA_TOPIC: topic }).includes(`KAFKA_TOPIC must not be '.' or '..' (Kafka refuses those names)`),
        topic,
      )
    }
    assert.equal(loadConfig({ ...valid, KAFKA_TOPIC: '...' }).kafka.topic, '...')
    assert.equal(loadConfig({ ...valid, KAFKA_TOPIC: 'meetup.rsvps' }).kafka.topic, 'meetup.rsvps')
    // a group id is not a topic name: Kafka takes '.' there
    assert.equal(loadConfig({ ...valid, KAFKA_GROUP_ID: '.' }).kafka.groupId, '.')
  })

  test('should keep secrets out of JSON and of the error message', () => {
    const config = loadConfig(valid)
    const text = JSON.stringify(config)
    assert.equal(config.postgres.url, valid.DATABASE_URL)
    assert.ok(!text.includes('s3cret'), 'the database password must not serialise')
    assert.ok(!text.includes('p1'), 'the redis password must not serialise')
    assert.equal(config.postgres.safeUrl, 'postgres://app:***@127.0.0.1:5432/rsvps')
    const withQuery = loadConfig({
      ...valid,
      DATABASE_URL: 'postgres://app@127.0.0.1:5432/rsvps?password=s3cret&sslpassword=x2&application_name=a',
    })
    assert.ok(!withQuery.postgres.safeUrl.includes('s3cret') && !withQuery.postgres.safeUrl.includes('x2'))
    assert.ok(withQuery.postgres.safeUrl.includes('application_name=a'))
    const problems = problemsOf({ ...valid, DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:5432/' })
    assert.ok(!problems.join('\n').includes('s3cret'))
  })

  test('should read a secret from NAME_FILE, and refuse both NAME and NAME_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsvp-config-'))
    const file = join(dir, 'database-url')
    writeFileSync(file, `${valid.DATABASE_URL}\n`)
    const config = loadConfig({ ...valid, DATABASE_URL: '', DATABASE_URL_FILE: file })
    assert.equal(config.postgres.url, valid.DATABASE_URL)
    assert.ok(
      problemsOf({ ...valid, DATABASE_URL_FILE: file }).includes(
        'DATABASE_URL and DATABASE_URL_FILE are both set: set only one',
      ),
    )
    assert.ok(
      problemsOf({ ...valid, DATABASE_URL: '', DATABASE_URL_FILE: join(dir, 'missing') })[0]?.includes(
        'cannot be read',
      ),
    )
  })

  test('should take an optional read replica, a secret like DATABASE_URL, and its lag limit', () => {
    const plain = loadConfig(valid)
    assert.equal(plain.postgres.readUrl, undefined)
    assert.equal(plain.postgres.replicaMaxLagSeconds, 5)
    const replicaUrl = 'postgres://app:r3plica@127.0.0.1:5433/rsvps'
    const config = loadConfig({ ...valid, DATABASE_READ_URL: replicaUrl, REPLICA_MAX_LAG_SECONDS: '30' })
    assert.equal(config.postgres.readUrl, replicaUrl)
    assert.equal(config.postgres.readSafeUrl, 'postgres://app:***@127.0.0.1:5433/rsvps')
    assert.equal(config.postgres.replicaMaxLagSeconds, 30)
    assert.ok(!JSON.stringify(config).includes('r3plica'), 'the replica’s password is not enumerable')
    // The primary names the data set: cache keys do not change when reads move to the replica.
    assert.equal(config.postgres.dataSet, plain.postgres.dataSet)

    const dir = mkdtempSync(join(tmpdir(), 'rsvp-config-'))
    const file = join(dir, 'database-read-url')
    writeFileSync(file, `${replicaUrl}\n`)
    assert.equal(loadConfig({ ...valid, DATABASE_READ_URL_FILE: file }).postgres.readUrl, replicaUrl)
    assert.ok(
      problemsOf({ ...valid, DATABASE_READ_URL: replicaUrl, DATABASE_READ_URL_FILE: file }).includes(
        'DATABASE_READ_URL and DATABASE_READ_URL_FILE are both set: set only one',
      ),
    )
    const problems = problemsOf({
      ...valid,
      DATABASE_READ_URL: 'mysql://app:r3plica@h/db',
      REPLICA_MAX_LAG_SECONDS: '0',
    })
    assert.ok(problems.some((p) => p.startsWith('DATABASE_READ_URL must start with postgres://')))
    assert.ok(problems.some((p) => p.startsWith('REPLICA_MAX_LAG_SECONDS must be an integer from 1')))
    assert.ok(!problems.join('\n').includes('r3plica'))
    assert.ok(
      problemsOf({ ...valid, DATABASE_READ_URL: 'not a url' }).includes(
        'DATABASE_READ_URL is not a URL (expected postgres://user:password@host:port/database)',
      ),
    )
  })

  test('should read ahead one batch by default, or INGEST_READ_AHEAD_MESSAGES', () => {
    assert.equal(loadConfig(valid).ingest.readAheadMessages, 20_000)
    assert.equal(loadConfig({ ...valid, INGEST_BATCH_MAX_MESSAGES: '8000' }).ingest.readAheadMessages, 8000)
    assert.equal(loadConfig({ ...valid, INGEST_READ_AHEAD_MESSAGES: '5000' }).ingest.readAheadMessages, 5000)
    assert.match(problemsOf({ ...valid, INGEST_READ_AHEAD_MESSAGES: '0' }).join('\n'), /INGEST_READ_AHEAD_MESSAGES/)
    assert.match(problemsOf({ ...valid, INGEST_READ_AHEAD_MESSAGES: 'lots' }).join('\n'), /INGEST_READ_AHEAD_MESSAGES/)
  })

  test('should return a frozen object', () => {
    const config = loadConfig(valid)
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.kafka))
    assert.throws(() => {
      ;(config.kafka as { topic: string }).topic = 'other'
    }, TypeError)
  })
})

describe('loadConfig: TOPK_COALESCE', () => {
  test('should coalesce by default, and take true, false, 1 and 0 in any case', () => {
    assert.equal(loadConfig(valid).http.topkCoalesce, true)
    assert.equal(loadConfig({ ...valid, TOPK_COALESCE: 'FALSE' }).http.topkCoalesce, false)
    assert.equal(loadConfig({ ...valid, TOPK_COALESCE: '0' }).http.topkCoalesce, false)
    assert.equal(loadConfig({ ...valid, TOPK_COALESCE: ' true ' }).http.topkCoalesce, true)
    assert.equal(loadConfig({ ...valid, TOPK_COALESCE: '1' }).http.topkCoalesce, true)
  })

  test('should refuse any other value, naming what it takes', () => {
    const problems = problemsOf({ ...valid, TOPK_COALESCE: 'yes please' })
    assert.deepEqual(problems, ["TOPK_COALESCE must be true or false (or 1 or 0), not 'yes please'"])
  })
})

describe('loadConfig: PG_POOL_SIZE', () => {
  test('should refuse a pool of one connection: ingest runs two batch transactions at once', () => {
    const problems = problemsOf({ ...valid, PG_POOL_SIZE: '1' })
    assert.equal(problems.length, 1)
    assert.match(problems[0] ?? '', /PG_POOL_SIZE/)
    assert.equal(loadConfig({ ...valid, PG_POOL_SIZE: '2' }).postgres.poolSize, 2)
  })
})

describe('loadKafkaConfig', () => {
  test('should need only the Kafka settings, and give the same section loadConfig does', () => {
    const kafka = loadKafkaConfig({ KAFKA_BROKERS: valid.KAFKA_BROKERS, KAFKA_TOPIC: 'stream' })
    assert.deepEqual(kafka, loadConfig({ ...valid, KAFKA_TOPIC: 'stream' }).kafka)
    assert.equal(kafka.dlqTopic, 'stream.dlq')
    assert.ok(Object.isFrozen(kafka))
  })

  test('should report every wrong Kafka setting at once, and nothing about the database or Redis', () => {
    try {
      loadKafkaConfig({ KAFKA_PARTITIONS: '0', KAFKA_TOPIC: 'bad topic!' })
      assert.fail('expected loadKafkaConfig to throw')
    } catch (error) {
      assert.ok(isAppError(error, ErrorCodes.CONFIG_INVALID), 'expected a CONFIG_INVALID error')
      const problems = error.context.problems as string[]
      assert.equal(problems.length, 3, problems.join('\n'))
      assert.ok(problems.some((p) => p.includes('KAFKA_BROKERS')))
      assert.ok(problems.some((p) => p.includes('KAFKA_PARTITIONS')))
      assert.ok(problems.some((p) => p.includes('KAFKA_TOPIC')))
      assert.ok(!problems.some((p) => /DATABASE_URL|REDIS_RING/.test(p)))
    }
  })
})
