/**
 * Operators scale a consumer group by adding partitions to its topic while it runs. The Kafka
 * client does not rebalance for them, so the ingest watches the group's coverage from the broker
 * and joins again when partitions are owned by nobody (src/ingest/ingest.ts). What was written
 * into the new partitions before that is counted too: they are read from their earliest offset.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addPartitions, endOffsets } from '../../src/kafka/client.ts'
import { generateStream } from '../../src/producer/generator.ts'
import { stackConfig } from '../helpers.ts'
import { assertConverges, createIngestFixture, produce, startIngest } from '../support/ingest-harness.ts'

test('partitions added to the topic while the ingest runs are read and counted', async (t) => {
  const fixture = await createIngestFixture(t, 2)
  const ingest = await startIngest(fixture, { LOG_LEVEL: 'info' })
  await ingest.ready()
  const messages = [...generateStream({ count: 6000, seed: 41, events: 300, groups: 60 })]
  const before = messages.slice(0, 3000)
  const after = messages.slice(3000)
  await produce(fixture, before)
  await assertConverges(fixture, before)

  await addPartitions(stackConfig().kafka, fixture.topic, 4)
  await produce(fixture, after)
  const ends = await endOffsets(stackConfig().kafka, fixture.topic)
  assert.ok(
    (ends.get(2) ?? 0n) > 0n && (ends.get(3) ?? 0n) > 0n,
    `the new partitions hold messages: ${JSON.stringify([...ends].map(([p, e]) => [p, String(e)]))}`,
  )
  // Within the default check interval (5 s) and one rebalance; the bound only stops a hung test.
  await assertConverges(fixture, messages, 120_000)
  assert.match(ingest.output(), /no group member owns[^\n]*joining the group again/)
  assert.match(ingest.output(), /"unowned":\[2,3\]/)
  // Not the stall clock's rejoin (after a minute without progress): the coverage check's.
  assert.doesNotMatch(ingest.output(), /no progress while messages wait/)
})
