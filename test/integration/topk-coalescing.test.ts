/**
 * Without answer reuse (TOPK_CACHE_MS=0) concurrent identical top-k requests share computations
 * (src/api/request-coalescing.ts), yet no request may get an answer read before it arrived: with
 * clients asking for the same ranking all the time, a request sent after a batch committed must
 * count that batch's RSVP. One `serve` process, real Kafka and PostgreSQL. (Which round a request
 * joins is proven step by step in test/unit/api/request-coalescing.test.ts; here the rounds' answers
 * are checked end to end.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { get, waitFor } from '../support/http.ts'
import { createIngestFixture, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'

const QUERY = '/api/v1/events/topk?k=5'
const CLIENTS = 16
const ROUNDS = 10

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
