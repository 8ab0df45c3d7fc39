/**
 * REDIS_RING or REDIS_CLUSTER: the service takes exactly one, and says so clearly otherwise.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { problemsOf } from '../support/config-problems.ts'

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:5432/rsvps',
}
const ring = 'redis://u:p1@127.0.0.1:7001,redis://u:p2@127.0.0.1:7002'
const cluster =
  'redis://app:c1uster@127.0.0.1:7101, redis://app:c1uster@127.0.0.1:7102,redis://app:c1uster@127.0.0.1:7103'

describe('loadConfig: REDIS_RING or REDIS_CLUSTER', () => {
  test('REDIS_CLUSTER alone should give the seed nodes, and no ring', () => {
    const config = loadConfig({ ...base, REDIS_CLUSTER: cluster })
    assert.deepEqual(config.redis.ring, [])
    assert.deepEqual(
      config.redis.cluster.map((node) => [node.id, node.username, node.password]),
      [
        ['127.0.0.1:7101', 'app', 'c1uster'],
        ['127.0.0.1:7102', 'app', 'c1uster'],
        ['127.0.0.1:7103', 'app', 'c1uster'],
      ],
    )
    assert.equal(config.redis.ttlSeconds, 300)
    assert.ok(!JSON.stringify(config).includes('c1uster'), 'the password must not serialise')
  })

  test('REDIS_RING alone should give the ring, and no cluster', () => {
    const config = loadConfig({ ...base, REDIS_RING: ring })
    assert.equal(config.redis.ring.length, 2)
    assert.deepEqual(config.redis.cluster, [])
  })

  test('both set should be one clear problem', () => {
    const problems = problemsOf({ ...base, REDIS_RING: ring, REDIS_CLUSTER: cluster })
    assert.deepEqual(problems, [
      'REDIS_RING and REDIS_CLUSTER are both set: set only one (the nodes of a ring, or the seed nodes of a Redis Cluster)',
    ])
    const dir = mkdtempSync(join(tmpdir(), 'rsvp-config-'))
    const file = join(dir, 'redis-cluster')
    writeFileSync(file, `${cluster}\n`)
    assert.equal(problemsOf({ ...base, REDIS_RING: ring, REDIS_CLUSTER_FILE: file }).length, 1)
  })

  test('neither set should be one problem naming both, and their _FILE forms', () => {
    const problems = problemsOf(base)
    assert.equal(problems.length, 1)
    assert.match(
      problems[0] ?? '',
      /^REDIS_RING \(or REDIS_RING_FILE\) or REDIS_CLUSTER \(or REDIS_CLUSTER_FILE\) is required/,
    )
    // Empty is unset, as for every setting.
    assert.deepEqual(problemsOf({ ...base, REDIS_RING: '', REDIS_CLUSTER: '' }), problems)
  })

  test('REDIS_CLUSTER_FILE should be read like the other secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsvp-config-'))
    const file = join(dir, 'redis-cluster')
    writeFileSync(file, `${cluster}\n`)
    assert.equal(loadConfig({ ...base, REDIS_CLUSTER_FILE: file }).redis.cluster.length, 3)
    assert.ok(
      problemsOf({ ...base, REDIS_CLUSTER: cluster, REDIS_CLUSTER_FILE: file }).includes(
        'REDIS_CLUSTER and REDIS_CLUSTER_FILE are both set: set only one',
      ),
    )
  })

  test('malformed seed nodes should be named as REDIS_CLUSTER entries, without their password', () => {
    const problems = problemsOf({
      ...base,
      REDIS_CLUSTER:
        'redis://app:c1uster@127.0.0.1:7101,not a url,rediss://app:c1uster@h:1,redis://app:c1uster@127.0.0.1:7101',
    })
    assert.ok(problems.includes('REDIS_CLUSTER entry 2 is not a URL (expected redis://user:password@host:port)'))
    assert.ok(problems.includes('REDIS_CLUSTER entry 3 must start with redis://, not rediss://'))
    assert.ok(problems.includes('REDIS_CLUSTER names the same host:port twice'))
    assert.ok(!problems.join('\n').includes('c1uster'))
  })

  test('seed nodes with different users or passwords should be refused: the client logs in to every node with one', () => {
    const problems = problemsOf({
      ...base,
      REDIS_CLUSTER: 'redis://app:one@127.0.0.1:7101,redis://app:two@127.0.0.1:7102',
    })
    assert.deepEqual(problems, ['REDIS_CLUSTER entries must all have the same user and password'])
  })
})
