import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { keyHash, partitionRuns } from '../../../src/kafka/partitions.ts'

const message = (key: string | null, value: string, topic = 't') => ({
  topic,
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from(value),
})

describe('keyHash', () => {
  test("should be Kafka's murmur2 as an unsigned number (the client's default partitioner)", () => {
    // Kafka's own test vectors (UtilsTest.testMurmur2), as signed 32-bit numbers.
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    for (const [key, signed] of cases) assert.equal(keyHash(Buffer.from(key)), signed >>> 0, key)
  })
})

describe('partitionRuns', () => {
  test('should put each key in its partition and keep the order within each partition', () => {
    const messages = [message('a', '1'), message('b', '2'), message('a', '3'), message('c', '4'), message('b', '5')]
    const runs = partitionRuns(messages, () => 6, new Map())
    for (const run of runs) {
      for (const m of run.messages) assert.equal(keyHash(m.key as Buffer) % 6, run.partition)
    }
    const values = (key: string) =>
      runs.flatMap((run) => run.messages.filter((m) => m.key?.toString() === key).map((m) => m.value?.toString()))
    assert.deepEqual(values('a'), ['1', '3'])
    assert.deepEqual(values('b'), ['2', '5'])
    assert.equal(
      runs.reduce((n, run) => n + run.messages.length, 0),
      messages.length,
    )
    assert.equal(new Set(runs.map((run) => run.partition)).size, runs.length, 'one run per partition')
  })

  test('should spread messages without a key round robin per topic, going on from the last send', () => {
    const roundRobin = new Map<string, number>()
    const first = partitionRuns([message(null, '1'), message(null, '2'), message(null, '3', 'u')], () => 2, roundRobin)
    assert.deepEqual(
      first.map((run) => [run.topic, run.partition, run.messages.map((m) => m.value?.toString())]),
      [
        ['t', 0, ['1']],
        ['t', 1, ['2']],
        ['u', 0, ['3']],
      ],
    )
    const next = partitionRuns([message(null, '4')], () => 2, roundRobin)
    assert.equal(next[0]?.partition, 0)
  })

  test('should keep topics apart when their partitions have the same number', () => {
    const runs = partitionRuns([message('k', '1', 'x'), message('k', '2', 'y')], () => 1, new Map())
    assert.deepEqual(
      runs.map((run) => [run.topic, run.partition]),
      [
        ['x', 0],
        ['y', 0],
      ],
    )
  })
})
