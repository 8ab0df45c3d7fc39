/**
 * Regressions of issue 10 ("ingest never stalls"): messages that once blocked every message
 * behind them, run through real `rsvp-topk` processes, Kafka and PostgreSQL.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { endOffsets } from '../../src/kafka/client.ts'
import { createRandom } from '../../src/producer/random.ts'
import { stackConfig } from '../helpers.ts'
import { get, metricValue, waitFor } from '../support/http.ts'
import { assertConverges, createIngestFixture, produce, startCommand, startIngest } from '../support/ingest-harness.ts'
import { randomText, rsvpMessage } from '../support/rsvp-messages.ts'
import { readDeadLetters } from '../support/topic-reader.ts'

async function dlqRecords(dlqTopic: string): Promise<bigint> {
  let total = 0n
  for (const end of (await endOffsets(stackConfig().kafka, dlqTopic)).values()) total += end
  return total
}

describe('poison messages', () => {
  test('a group_city of 980 random CJK characters (2,940 bytes) is counted like any other message', async (t) => {
    const fixture = await createIngestFixture(t, 1)
    const random = createRandom(10).next
    const messages = [
      rsvpMessage({ rsvpId: 1, eventId: 'evA' }),
      rsvpMessage({ rsvpId: 2, eventId: 'evA' }),
      rsvpMessage({ rsvpId: 3, eventId: 'evB', groupId: 71, groupCity: randomText(random, 980, 3) }),
      rsvpMessage({ rsvpId: 4, eventId: 'evA' }),
      rsvpMessage({ rsvpId: 5, eventId: 'evC' }),
    ]
    assert.equal(Buffer.byteLength(JSON.parse(messages[2]?.value ?? '').group.group_city), 2940)
    const service = await startCommand(fixture, 'serve')
    await produce(fixture, messages)
    await assertConverges(fixture, messages)
    const { status, body } = await get(service.base, '/api/v1/events/topk?k=10')
    assert.equal(status, 200)
    assert.deepEqual(
      body.events.map((e: { event_id: string; yes_rsvps: number }) => [e.event_id, e.yes_rsvps]),
      [
        ['evA', 3],
        ['evB', 1],
        ['evC', 1],
      ],
    )
    assert.equal(await dlqRecords(`${fixture.topic}.dlq`), 0n, 'nothing dead-lettered')
  })

  test('every text field at its length cap, in 1-, 3- and 4-byte random characters, is stored and counted', async (t) => {
    const fixture = await createIngestFixture(t, 2)
    const random = createRandom(11).next
    const messages = []
    let rsvpId = 100
    for (const width of [1, 3, 4] as const) {
      const text = () => randomText(random, 1000, width)
      messages.push(
        rsvpMessage({
          rsvpId: rsvpId++,
          eventId: randomText(random, 255, width),
          eventName: text(),
          eventUrl: text(),
          groupId: 200 + width,
          groupName: text(),
          groupUrlname: text(),
          groupCity: text(),
          groupCountry: text(),
          groupState: text(),
          topics: Array.from({ length: 100 }, () => ({ urlkey: text(), topic_name: text() })),
          venueId: 300 + width,
          venueName: text(),
          memberName: text(),
          photo: text(),
        }),
        // A response is free text too: a long one counts as "not yes".
        rsvpMessage({ rsvpId: rsvpId++, eventId: `long-response-${width}`, response: text() }),
        rsvpMessage({ rsvpId: rsvpId++, eventId: `after-${width}` }),
      )
    }
    await startIngest(fixture)
    await produce(fixture, messages)
    await assertConverges(fixture, messages)
    assert.equal(await dlqRecords(`${fixture.topic}.dlq`), 0n, 'nothing dead-lettered')
  })

  test('messages PostgreSQL refuses for reasons nobody foresaw go to the dead-letter topic with the SQLSTATE; the rest is counted', async (t) => {
    const fixture = await createIngestFixture(t, 1)
    // Stand-ins for the unforeseen, in this test's database only: a constraint (23514) and a
    // B-tree index on free text (54000 for a long random name).
    await fixture.db.query(`ALTER TABLE events ADD CONSTRAINT refuse_me CHECK (name IS DISTINCT FROM 'refuse me')`)
    await fixture.db.query('CREATE INDEX events_by_name ON events (name)')
    const random = createRandom(12).next
    const ordinary = Array.from({ length: 300 }, (_, i) =>
      rsvpMessage({ rsvpId: 1000 + i, eventId: `ev${i % 17}`, guests: i % 3, response: i % 5 === 0 ? 'no' : 'yes' }),
    )
    const refused = [
      rsvpMessage({ rsvpId: 5000, eventId: 'poison-check', eventName: 'refuse me' }),
      rsvpMessage({ rsvpId: 5001, eventId: 'poison-index', eventName: randomText(random, 1000, 3) }),
    ]
    const messages = [
      ...ordinary.slice(0, 100),
      refused[0],
      ...ordinary.slice(100, 250),
      refused[1],
      ...ordinary.slice(250),
    ]
    const ingest = await startIngest(fixture, { LOG_LEVEL: 'error' })
    await produce(
      fixture,
      messages.filter((m) => m !== undefined),
    )
    await assertConverges(fixture, ordinary)

    const letters = await waitFor('two dead letters', async () => {
      const found = await readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`)
      return found.length >= 2 ? found : undefined
    })
    assert.deepEqual(letters.map((l) => l.record.value?.toString()).sort(), refused.map((m) => m?.value).sort())
    assert.deepEqual(letters.map((l) => l.sqlstate).sort(), ['23514', '54000'])
    for (const letter of letters) assert.match(letter.reason ?? '', /^PostgreSQL refused it: /)
    const metrics = (await get(ingest.base, '/metrics')).text
    assert.equal(metricValue(metrics, 'rsvp_topk_ingest_messages_total', 'outcome="refused"'), 2)
    const isolation = metricValue(metrics, 'rsvp_topk_ingest_isolation_transactions_total') ?? 0
    // Two refused messages in 302 cost about 2 * 2 * log2(302) transactions, far fewer than one each.
    assert.ok(isolation > 0 && isolation <= 40, `isolation took ${isolation} transactions`)
    const errorLines = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('PostgreSQL refused a message'))
    assert.equal(errorLines.length, 2, 'one error line per refused message')
    for (const line of errorLines) assert.equal(JSON.parse(line).level, 50)
  })

  test('a dead letter too large for the dead-letter topic goes compressed, or truncated with its size and SHA-256', async (t) => {
    // The source topic takes 8 MiB records; the dead-letter topic keeps the broker's 1 MiB.
    const fixture = await createIngestFixture(t, 1, { topicConfigs: { 'max.message.bytes': String(8 * 2 ** 20) } })
    const random = createRandom(13).next
    const compressible = `{"rsvp_id": ${'1'.repeat(3 * 2 ** 20)}`
    const incompressible = randomText(random, 2 * 2 ** 20, 1)
    const messages = [
      rsvpMessage({ rsvpId: 1, eventId: 'evA' }),
      { key: undefined, value: compressible, kind: 'invalid' as const },
      rsvpMessage({ rsvpId: 2, eventId: 'evA' }),
      { key: undefined, value: incompressible, kind: 'invalid' as const },
      rsvpMessage({ rsvpId: 3, eventId: 'evB' }),
    ]
    await startIngest(fixture)
    await produce(fixture, messages, 1)
    await assertConverges(fixture, messages)
    const letters = await waitFor('two dead letters', async () => {
      const found = await readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`)
      return found.length >= 2 ? found : undefined
    })
    const header = (letter: (typeof letters)[number], name: string) =>
      letter.record.headers.findLast((h) => h.key?.toString() === name)?.value?.toString()
    const whole = letters.find((l) => l.record.value?.length === Buffer.byteLength(compressible))
    assert.ok(whole, 'the compressible one arrives whole')
    assert.equal(whole.record.value?.toString(), compressible)
    assert.equal(header(whole, 'x-rsvp-topk-truncated'), undefined)
    const truncated = letters.find((l) => header(l, 'x-rsvp-topk-truncated') === 'true')
    assert.ok(truncated, 'the incompressible one arrives truncated')
    assert.equal(truncated.record.value?.toString(), incompressible.slice(0, 64 * 1024))
    assert.equal(header(truncated, 'x-rsvp-topk-original-value-bytes'), String(Buffer.byteLength(incompressible)))
    assert.equal(
      header(truncated, 'x-rsvp-topk-original-value-sha256'),
      createHash('sha256').update(incompressible).digest('hex'),
    )
    assert.equal(truncated.reason, 'not JSON')
  })
})
