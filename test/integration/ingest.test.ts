import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createGroupConsumer } from '../../src/kafka/client.ts'
import { type GeneratedMessage, generateStream } from '../../src/producer/generator.ts'
import { createRandom } from '../../src/producer/random.ts'
import { stackConfig } from '../helpers.ts'
import { computeExpected } from '../support/contract-oracle.ts'
import { get, metricValue, waitFor } from '../support/http.ts'
import {
  assertConverges,
  createIngestFixture,
  type IngestFixture,
  type IngestProcess,
  produce,
  ROOT,
  startIngest,
} from '../support/ingest-harness.ts'
import { readDeadLetters } from '../support/topic-reader.ts'

const run = promisify(execFile)

function stream(count: number, seed: number): GeneratedMessage[] {
  return [...generateStream({ count, seed, events: 400, groups: 80, invalidShare: 0.02 })]
}

/** Resolves once PostgreSQL holds at least `count` RSVPs: the ingest is past start-up and working. */
async function counted(fixture: IngestFixture, count: number): Promise<void> {
  await waitFor(`${count} RSVPs counted`, async () => {
    const { rows } = await fixture.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rsvps')
    return (rows[0]?.n ?? 0) >= count ? true : undefined
  })
}

describe('rsvp-topk ingest', () => {
  test('should end with counts equal to the contract for a quirky stream over 6 partitions, and stop cleanly on SIGTERM', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(20_000, 1)
    const kinds = new Set(messages.map((m) => m.kind))
    for (const kind of ['new', 'resend', 'truncated-resend', 'flip', 'update', 'move', 'stale', 'invalid']) {
      assert.ok(kinds.has(kind as GeneratedMessage['kind']), `the stream has ${kind} messages`)
    }
    const ingest = await startIngest(fixture)
    await produce(fixture, messages)
    await assertConverges(fixture, messages)

    // Exit code 0 also says it stopped within main.ts's 9 s deadline (past it, the exit code is 1).
    ingest.child.kill('SIGTERM')
    const exit = await ingest.exited
    assert.equal(exit.code, 0, `exit code 0 on SIGTERM; output:\n${ingest.output().slice(-2000)}`)
  })

  test('should send invalid messages to <topic>.dlq with their reasons, and apply the valid ones behind them', async (t) => {
    const fixture = await createIngestFixture(t, 2)
    const messages = stream(3000, 2)
    const expectedInvalid = messages.filter((m) => m.kind === 'invalid')
    assert.ok(expectedInvalid.length > 20)
    await startIngest(fixture)
    await produce(fixture, messages)
    await assertConverges(fixture, messages)

    const dead = await waitFor('every invalid message in the dead-letter topic', async () => {
      const letters = await readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`)
      return letters.length >= expectedInvalid.length ? letters : undefined
    })
    assert.deepEqual(
      dead.map((d) => d.record.value?.toString() ?? '').sort(),
      expectedInvalid.map((m) => m.value).sort(),
      'exactly the invalid messages, byte for byte',
    )
    for (const d of dead) {
      assert.ok(d.reason && d.reason.length > 0, 'a reason header')
      assert.match(d.source, /^\d+\/\d+$/)
    }
    assert.equal(computeExpected(messages.map((m) => m.value)).invalid, expectedInvalid.length)
  })

  test('should stay exact when killed with SIGKILL at 3 random points and restarted', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(60_000, 3)
    const random = createRandom(3).next
    const producing = produce(fixture, messages, 2000)
    // Random moments on purpose: start-up, mid-batch, mid-commit; exactness must not depend on when.
    for (let kill = 0; kill < 3; kill++) {
      const ingest = await startIngest(fixture)
      await sleep(700 + Math.floor(random() * 2000))
      ingest.child.kill('SIGKILL')
      await ingest.exited
    }
    await startIngest(fixture)
    await producing
    await assertConverges(fixture, messages)
  })

  test('should stop on SIGTERM mid-stream with exit code 0, and lose nothing on restart', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(60_000, 6)
    const first = await startIngest(fixture)
    await first.ready()
    const producing = produce(fixture, messages, 2000)
    await counted(fixture, 5000)
    first.child.kill('SIGTERM')
    const exit = await first.exited
    assert.equal(exit.code, 0, `exit code 0 on SIGTERM; output:\n${first.output().slice(-2000)}`)
    await startIngest(fixture)
    await producing
    await assertConverges(fixture, messages)
  })

  test('should give up joining the group on SIGTERM, with exit code 0, while a frozen member holds up the rebalance', async (t) => {
    const fixture = await createIngestFixture(t)
    // A member that stops heartbeating holds every join up until its session times out: 60 s here,
    // far beyond the 9 s shutdown deadline, so a stop that waited for the join would exit 1.
    const frozen = await startIngest(fixture, { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '60000' })
    await waitFor('the first member to join', async () =>
      frozen.output().includes('"joined the consumer group"') ? true : undefined,
    )
    frozen.child.kill('SIGSTOP')
    t.after(() => frozen.child.kill('SIGCONT'))
    const joining = await startIngest(fixture, { LOG_LEVEL: 'info' })
    await waitFor('the second member to start joining', async () =>
      joining.output().includes('"joining the consumer group"') ? true : undefined,
    )
    joining.child.kill('SIGTERM')
    const exit = await joining.exited
    assert.equal(exit.code, 0, `exit code 0 on SIGTERM while joining; output:\n${joining.output().slice(-3000)}`)
    // Its join could not have ended: the frozen member's session was still running.
    assert.doesNotMatch(joining.output(), /"joined the consumer group"/)
    assert.match(joining.output(), /"stopped"/)
  })

  test('should stay exact with two consumers in the group when one of them is killed', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(50_000, 4)
    const first = await startIngest(fixture)
    const second = await startIngest(fixture)
    await Promise.all([first.ready(), second.ready()])
    const producing = produce(fixture, messages, 2000)
    await counted(fixture, 5000)
    first.child.kill('SIGKILL')
    await first.exited
    await producing
    await assertConverges(fixture, messages)
  })

  test('should ride out PostgreSQL stopped mid-stream: no crash, nothing skipped, the stall visible', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(30_000, 5)
    const ingest = await startIngest(fixture, { DEPENDENCY_GRACE_SECONDS: '1' })
    await produce(fixture, messages.slice(0, 10_000))
    await assertConverges(fixture, messages.slice(0, 10_000))
    let producing: Promise<void>
    await run(`${ROOT}/dev.sh`, ['down', 'postgres'])
    try {
      producing = produce(fixture, messages.slice(10_000))
      // A state, not a delay: the ingest has met the outage several times and is waiting it out.
      await waitFor('the ingest to retry PostgreSQL', async () => {
        const retries = metricValue(
          (await get(ingest.base, '/metrics')).text,
          'rsvp_topk_ingest_retries_total',
          'dependency="postgres"',
        )
        return (retries ?? 0) >= 3 ? true : undefined
      })
      // Past DEPENDENCY_GRACE_SECONDS, /readyz names PostgreSQL as down, and the stall shows.
      const unready = await waitFor('/readyz to report postgres down', async () => {
        const reply = await get(ingest.base, '/readyz')
        return reply.status === 503 && reply.body?.dependencies?.postgres?.status === 'down' ? reply : undefined
      })
      assert.match(unready.body.error.message, /postgres failing since/)
      await waitFor('rsvp_topk_ingest_stalled_seconds above 1', async () => {
        const stalled = metricValue((await get(ingest.base, '/metrics')).text, 'rsvp_topk_ingest_stalled_seconds')
        return (stalled ?? 0) > 1 ? true : undefined
      })
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
    await ingest.ready()
  })

  test('should show a partition that a member holds and never reads in rsvp_topk_ingest_stalled_seconds', async (t) => {
    const fixture = await createIngestFixture(t, 2)
    const ingest = await startIngest(fixture)
    await ingest.ready()
    // A member of the group that joins, takes its share of the partitions and never consumes.
    const zombie = await createGroupConsumer(stackConfig().kafka, { groupId: fixture.groupId, topics: [fixture.topic] })
    let closed = false
    t.after(() => (closed ? undefined : zombie.close()))
    const messages = stream(4000, 8)
    await produce(fixture, messages)
    const stalled = await waitFor('the stall to show', async () => {
      const seconds = metricValue((await get(ingest.base, '/metrics')).text, 'rsvp_topk_ingest_stalled_seconds')
      return (seconds ?? 0) >= 3 ? seconds : undefined
    })
    assert.ok(stalled !== undefined && stalled >= 3)
    await zombie.close()
    closed = true
    await assertConverges(fixture, messages)
    await waitFor('the stall to end', async () =>
      metricValue((await get(ingest.base, '/metrics')).text, 'rsvp_topk_ingest_stalled_seconds') === 0
        ? true
        : undefined,
    )
  })

  test('should wait for PostgreSQL when started before it, then count everything', async (t) => {
    const fixture = await createIngestFixture(t)
    const messages = stream(5000, 7)
    await produce(fixture, messages)
    await run(`${ROOT}/dev.sh`, ['down', 'postgres'])
    let ingest: IngestProcess
    try {
      ingest = await startIngest(fixture)
      // /healthz answers and /readyz names what is missing, while start-up waits.
      const notReady = await waitFor('/readyz to name postgres', async () => {
        const reply = await get(ingest.base, '/readyz')
        return reply.status === 503 && reply.body?.dependencies?.postgres?.status === 'waiting' ? reply : undefined
      })
      assert.match(notReady.body.error.message, /waiting for postgres/)
      assert.equal((await get(ingest.base, '/healthz')).status, 200)
      await waitFor('a log line per attempt naming postgres', async () =>
        ingest
          .output()
          .split('\n')
          .filter((line) => line.includes('"dependency":"postgres"')).length >= 2
          ? true
          : undefined,
      )
      assert.equal(ingest.child.exitCode, null, ingest.output().slice(-3000))
    } finally {
      await run(`${ROOT}/dev.sh`, ['up', 'postgres'])
    }
    await ingest.ready()
    await assertConverges(fixture, messages)
  })
})
