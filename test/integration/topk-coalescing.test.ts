/**
 * Without answer reuse (TOPK_CACHE_MS=0) concurrent identical top-k requests share computations
 * (src/api/request-coalescing.ts), yet no request may get an answer read before it arrived: with
 * clients asking for the same ranking all the time, a request sent after a batch committed must
 * count that batch's RSVP. And requests that arrive while a computation is held up share one
 * round: one statement in PostgreSQL for all of them, where TOPK_COALESCE=false makes one each.
 * One `serve` process, real Kafka and PostgreSQL. (Which round a request joins is proven step by
 * step in test/unit/api/request-coalescing.test.ts.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { get, metricValue, waitFor } from '../support/http.ts'
import { createIngestFixture, type IngestFixture, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'

const QUERY = '/api/v1/events/topk?k=5'
const CLIENTS = 16
const ROUNDS = 10
/** requests sent while the first is held up: fewer than PG_POOL_SIZE (10), so each can hold a statement */
const LATECOMERS = 5

test('with TOPK_CACHE_MS=0, a request sent after a commit counts it while identical requests are in flight', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const service = await startCommand(fixture, 'serve', { TOPK_CACHE_MS: '0' })
  await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'E1' })])
  await service.ready()
  await waitFor('the first RSVP counted', async () => ((await yesOf(service.base)) === 1 ? true : undefined))

  // Clients asking for the same ranking without pause until the rounds are done.
  let running = true
  const statuses = new Map<number, number>()
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      const { status } = await get(service.base, QUERY)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })
  try {
    for (let yes = 2; yes <= ROUNDS + 1; yes++) {
      await produce(fixture, [rsvpMessage({ rsvpId: yes, eventId: 'E1' })])
      // Polled without pause, so the request below goes out as soon as the commit is visible:
      // likely while a round that read the database before the commit is still running.
      await untilStored(yes)
      assert.equal(await yesOf(service.base), yes, `a request sent after the commit of RSVP ${yes} counts it`)
    }
  } finally {
    running = false
    await Promise.all(clients)
  }
  assert.deepEqual([...statuses.keys()], [200], 'every concurrent request was answered')
  assert.ok((statuses.get(200) ?? 0) >= CLIENTS, 'the clients were answered while the rounds ran')

  /** Returns once the database counts `yes` for E1, polling without pause. */
  async function untilStored(yes: number): Promise<void> {
    const deadline = Date.now() + 60_000
    for (;;) {
      const { rows } = await fixture.db.query<{ yes_rsvps: number }>(
        'SELECT yes_rsvps FROM events WHERE event_id = $1',
        ['E1'],
      )
      if (rows[0]?.yes_rsvps === yes) return
      if (Date.now() > deadline) throw new Error(`timed out waiting for the database to count ${yes} yes`)
    }
  }
})

/** E1's yes count in the top-k answer at `base`, or undefined when E1 is not ranked yet. */
async function yesOf(base: string): Promise<number | undefined> {
  const { status, body } = await get(base, QUERY)
  assert.equal(status, 200)
  return body.events.find((event: { event_id: string }) => event.event_id === 'E1')?.yes_rsvps
}

for (const coalesce of [true, false]) {
  test(`requests that arrive while a computation is held up: ${
    coalesce ? 'one statement shared by all (the default)' : 'one statement each with TOPK_COALESCE=false'
  }`, async (t) => {
    const fixture = await createIngestFixture(t, 1)
    const service = await startCommand(fixture, 'serve', { TOPK_CACHE_MS: '0', TOPK_COALESCE: String(coalesce) })
    await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'E1' })])
    await service.ready()
    // Also puts E1's details in the process's own tier, so answers need the events table only to rank.
    await waitFor('the first RSVP counted', async () => ((await yesOf(service.base)) === 1 ? true : undefined))
    const waitedBefore = await waited(service.base)

    // A transaction of the test's holds every top-k statement up until it ends.
    const locker = await fixture.db.connect()
    let replies: Promise<number | undefined>[] = []
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
      replies.push(yesOf(service.base))
      await waitFor('the first request held up in PostgreSQL', async () =>
        (await heldUp(fixture)) === 1 ? true : undefined,
      )
      replies = [...replies, ...Array.from({ length: LATECOMERS }, () => yesOf(service.base))]
      if (coalesce) {
        await waitFor('the latecomers waiting for the next round', async () =>
          (await waited(service.base)) === waitedBefore + LATECOMERS ? true : undefined,
        )
        assert.equal(await heldUp(fixture), 1, 'the latecomers added no statement while the first was held up')
      } else {
        await waitFor('a statement for every request', async () =>
          (await heldUp(fixture)) === 1 + LATECOMERS ? true : undefined,
        )
        assert.equal(await waited(service.base), 0, 'no request was coalesced')
      }
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined)
      locker.release()
    }
    assert.deepEqual(await Promise.all(replies), Array(1 + LATECOMERS).fill(1), 'every request answered, E1 with 1 yes')
  })
}

/** Top-k statements of the fixture's database waiting for a lock now. */
async function heldUp(fixture: IngestFixture): Promise<number> {
  const { rows } = await fixture.db.query<{ held: number }>(
    `SELECT count(*)::int AS held FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'SELECT e.event_id, e.yes_rsvps%'`,
  )
  return rows[0]?.held ?? 0
}

/** rsvp_topk_topk_coalesced_requests_total{request="waited"} of the process at `base`. */
async function waited(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return metricValue(text, 'rsvp_topk_topk_coalesced_requests_total', 'request="waited"') ?? 0
}
