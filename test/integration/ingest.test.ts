import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createGroupConsumer } from '../../src/kafka/client.ts'
import { type GeneratedMessage, generateStream } from '../../src/producer/generator.ts'
import { createRandom } from '../../src/producer/random.ts'
import { stackConfig, uniqueName } from '../helpers.ts'
import { computeExpected } from '../support/contract-oracle.ts'
import { assertConverges, createIngestFixture, produce, ROOT, startIngest } from '../support/ingest-harness.ts'

const run = promisify(execFile)

function stream(count: number, seed: number): GeneratedMessage[] {
  return [...generateStream({ count, seed, events: 400, groups: 80, invalidShare: 0.02 })]
}

describe('rsvp-topk ingest', () => {
  test('should end with counts equal to the contract for a quirky stream over 6 partitions, and stop cleanly on SIGTERM', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(20_000, 1)
    const kinds = new Set(messages.map((m) => m.kind))
    for (const kind of ['new', 'resend', 'truncated-resend', 'flip', 'update', 'stale', 'invalid']) {
      assert.ok(kinds.has(kind as GeneratedMessage['kind']), `the stream has ${kind} messages`)
    }
    const ingest = startIngest(fixture)
    await produce(fixture, messages)
    await assertConverges(fixture, messages)

    const stopping = Date.now()
    ingest.child.kill('SIGTERM')
    const exit = await ingest.exited
    assert.equal(exit.code, 0, `exit code 0 on SIGTERM; output:\n${ingest.output().slice(-2000)}`)
    assert.ok(Date.now() - stopping < 10_000, 'stopped within 10 s')
  })

  test('should send invalid messages to <topic>.dlq with their reasons, and apply the valid ones behind them', async (t) => {
    const fixture = await createIngestFixture(t, 2)
    const messages = stream(3000, 2)
    const expectedInvalid = messages.filter((m) => m.kind === 'invalid')
    assert.ok(expectedInvalid.length > 20)
    startIngest(fixture)
    await produce(fixture, messages)
    await assertConverges(fixture, messages)

    const dlq = await createGroupConsumer(stackConfig().kafka, {
      groupId: uniqueName('dlq-reader'),
      topics: [`${fixture.topic}.dlq`],
    })
    t.after(() => dlq.close())
    const dead: {
      value: string
      reason: string | undefined
      partition: string | undefined
      offset: string | undefined
    }[] = []
    const deadline = setTimeout(() => void dlq.close(), 30_000)
    for await (const message of dlq.messages) {
      dead.push({
        value: message.value.toString(),
        reason: message.headers.get('x-rsvp-topk-reason'),
        partition: message.headers.get('x-rsvp-topk-source-partition'),
        offset: message.headers.get('x-rsvp-topk-source-offset'),
      })
      if (dead.length >= expectedInvalid.length) break
    }
    clearTimeout(deadline)
    assert.deepEqual(
      dead.map((d) => d.value).sort(),
      expectedInvalid.map((m) => m.value).sort(),
      'exactly the invalid messages, byte for byte',
    )
    for (const d of dead) {
      assert.ok(d.reason && d.reason.length > 0, 'a reason header')
      assert.match(d.partition ?? '', /^\d+$/)
      assert.match(d.offset ?? '', /^\d+$/)
    }
    assert.equal(computeExpected(messages.map((m) => m.value)).invalid, expectedInvalid.length)
  })

  test('should stay exact when killed with SIGKILL at 3 random points and restarted', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(60_000, 3)
    const random = createRandom(3).next
    const producing = produce(fixture, messages, 2000)
    for (let kill = 0; kill < 3; kill++) {
      const ingest = startIngest(fixture)
      await sleep(700 + Math.floor(random() * 2000))
      ingest.child.kill('SIGKILL')
      await ingest.exited
    }
    startIngest(fixture)
    await producing
    await assertConverges(fixture, messages)
  })

  test('should stop within 10 s on SIGTERM mid-stream, exit 0, and lose nothing on restart', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(60_000, 6)
    const producing = produce(fixture, messages, 2000)
    const first = startIngest(fixture)
    await sleep(1500)
    const stopping = Date.now()
    first.child.kill('SIGTERM')
    const exit = await first.exited
    assert.equal(exit.code, 0, `exit code 0 on SIGTERM; output:\n${first.output().slice(-2000)}`)
    assert.ok(Date.now() - stopping < 10_000, 'stopped within 10 s')
    startIngest(fixture)
    await producing
    await assertConverges(fixture, messages)
  })

  test('should stay exact with two consumers in the group when one of them is killed', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(50_000, 4)
    const first = startIngest(fixture)
    startIngest(fixture)
    await sleep(1500)
    const producing = produce(fixture, messages, 2000)
    await sleep(1000)
    first.child.kill('SIGKILL')
    await first.exited
    await producing
    await assertConverges(fixture, messages)
  })

  test('should ride out PostgreSQL stopped for 10 s mid-stream: no crash, nothing skipped', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(30_000, 5)
    const ingest = startIngest(fixture)
    await produce(fixture, messages.slice(0, 10_000))
    await sleep(500)
    let producing: Promise<void>
    await run(`${ROOT}/dev.sh`, ['down', 'postgres'])
    try {
      producing = produce(fixture, messages.slice(10_000))
      await sleep(10_000)
      assert.equal(
        ingest.child.exitCode,
        null,
        `ingest is still running while PostgreSQL is down:\n${ingest.output().slice(-3000)}`,
      )
    } finally {
      // Whatever happened, the next tests need PostgreSQL back.
      await run(`${ROOT}/dev.sh`, ['up', 'postgres'])
    }
    await producing
    await assertConverges(fixture, messages)
    assert.equal(ingest.child.exitCode, null, `ingest never exited:\n${ingest.output().slice(-3000)}`)
  })
})
