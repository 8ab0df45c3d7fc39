import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { computeExpected, topK, utcDay } from '../../support/contract-oracle.ts'

const T = Date.UTC(2026, 0, 1, 12) // noon, so small offsets stay on 2026-01-01
const MIDNIGHT = Date.UTC(2026, 0, 2)

interface Spec {
  id: number
  mtime: number
  event: string
  response?: string
  guests?: number
  eventName?: string
  eventTime?: number
  groupId?: number
  groupName?: string
  venueId?: number
  venueName?: string
  venueLat?: number
}

/** A message in the upstream format, with only what a test cares about varying. */
function rsvp(spec: Spec): string {
  const event: Record<string, unknown> = {
    event_name: spec.eventName ?? `Event ${spec.event}`,
    event_id: spec.event,
    event_url: `https://www.example.com/g/events/${spec.event}/`,
  }
  if (spec.eventTime !== undefined) event.time = spec.eventTime
  const message: Record<string, unknown> = {}
  if (spec.venueId !== undefined) {
    message.venue = {
      venue_name: spec.venueName ?? 'Hall',
      lon: 2.5,
      lat: spec.venueLat ?? 48.1,
      venue_id: spec.venueId,
    }
  }
  Object.assign(message, {
    visibility: 'public',
    response: spec.response ?? 'yes',
    guests: spec.guests ?? 0,
    member: { member_id: 1000 + spec.id, member_name: `Member ${spec.id}` },
    rsvp_id: spec.id,
    mtime: spec.mtime,
    event,
    group: {
      group_topics: [{ urlkey: 'hiking', topic_name: 'Hiking' }],
      group_city: 'Alderton',
      group_country: 'gb',
      group_id: spec.groupId ?? 77,
      group_name: spec.groupName ?? 'Walkers',
      group_lon: -1.5,
      group_urlname: 'Walkers',
      group_lat: 53.2,
    },
  })
  return JSON.stringify(message)
}

function counts(values: string[]) {
  const e = computeExpected(values)
  return { yes: Object.fromEntries(e.yes), attendees: Object.fromEntries(e.attendees) }
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  )
}

describe('computeExpected', () => {
  test('an empty stream should expect nothing', () => {
    const e = computeExpected([])
    assert.equal(e.valid, 0)
    assert.equal(e.invalid, 0)
    assert.equal(e.yes.size + e.attendees.size + e.yesByDay.size + e.events.size + e.current.size, 0)
    assert.deepEqual(topK(e, 10), [])
  })

  test('should count a yes once, with 1 + guests attendees', () => {
    const e = computeExpected([rsvp({ id: 1, mtime: T, event: 'a', guests: 2 })])
    assert.deepEqual(Object.fromEntries(e.yes), { a: 1 })
    assert.deepEqual(Object.fromEntries(e.attendees), { a: 3 })
    assert.deepEqual(e.current.get(1), { mtime: T, eventId: 'a', response: 'yes', guests: 2 })
    assert.equal(e.valid, 1)
  })

  test('byte-identical resends should count once', () => {
    const line = rsvp({ id: 1, mtime: T + 123, event: 'a', guests: 1 })
    const e = computeExpected([line, line, line])
    assert.deepEqual(Object.fromEntries(e.yes), { a: 1 })
    assert.deepEqual(Object.fromEntries(e.attendees), { a: 2 })
    assert.equal(e.valid, 3)
  })

  test('a resend with its mtime truncated to seconds is older and should change nothing', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T + 1_234, event: 'a', guests: 0 }),
      rsvp({ id: 1, mtime: T + 1_000, event: 'a', guests: 5, response: 'no' }),
    ])
    assert.equal(e.current.get(1)?.mtime, T + 1_234)
    assert.deepEqual(counts([rsvp({ id: 1, mtime: T + 1_234, event: 'a' })]), {
      yes: Object.fromEntries(e.yes),
      attendees: Object.fromEntries(e.attendees),
    })
  })

  test('yes -> no -> yes should leave and re-enter the count', () => {
    const stream = [
      rsvp({ id: 1, mtime: T, event: 'a' }),
      rsvp({ id: 2, mtime: T, event: 'a', guests: 1 }),
      rsvp({ id: 1, mtime: T + 10, event: 'a', response: 'no' }),
      rsvp({ id: 1, mtime: T + 20, event: 'a', response: 'yes', guests: 3 }),
    ]
    assert.deepEqual(counts(stream.slice(0, 2)), { yes: { a: 2 }, attendees: { a: 3 } })
    assert.deepEqual(counts(stream.slice(0, 3)), { yes: { a: 1 }, attendees: { a: 2 } })
    assert.deepEqual(counts(stream), { yes: { a: 2 }, attendees: { a: 6 } })
  })

  test('an event whose last yes turns no should leave the count maps (no zeros kept)', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T, event: 'a' }),
      rsvp({ id: 1, mtime: T + 1, event: 'a', response: 'no' }),
      rsvp({ id: 2, mtime: T, event: 'b', response: 'no' }),
    ])
    assert.equal(e.yes.size, 0)
    assert.equal(e.attendees.size, 0)
    assert.equal(e.yesByDay.size, 0)
    assert.deepEqual(topK(e, 5), [])
    assert.equal(e.events.size, 2, 'details are still kept for events without a yes')
  })

  test('a stale version arriving after a newer one, or one with an equal mtime, should change nothing', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T, event: 'a', guests: 1 }),
      rsvp({ id: 1, mtime: T - 21 * 86_400_000, event: 'a', response: 'no' }),
      rsvp({ id: 1, mtime: T, event: 'a', response: 'no', guests: 9 }),
    ])
    assert.deepEqual(Object.fromEntries(e.yes), { a: 1 })
    assert.deepEqual(Object.fromEntries(e.attendees), { a: 2 })
    assert.equal(e.valid, 3)
  })

  test('the result should not depend on arrival order', () => {
    const versions = [
      rsvp({ id: 1, mtime: T + 5, event: 'a', response: 'no' }),
      rsvp({ id: 1, mtime: T + 9, event: 'b', guests: 2 }),
      rsvp({ id: 1, mtime: T + 7, event: 'a', guests: 1 }),
      rsvp({ id: 2, mtime: T + 1, event: 'a' }),
    ]
    for (const order of permutations(versions)) {
      assert.deepEqual(counts(order), { yes: { a: 1, b: 1 }, attendees: { a: 1, b: 3 } })
    }
  })

  test('a newer version naming another event should move the RSVP', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T, event: 'a' }),
      rsvp({ id: 2, mtime: T, event: 'a' }),
      rsvp({ id: 1, mtime: T + 1, event: 'b', guests: 1 }),
    ])
    assert.deepEqual(Object.fromEntries(e.yes), { a: 1, b: 1 })
    assert.deepEqual(Object.fromEntries(e.attendees), { a: 1, b: 2 })
  })

  test('unusable guests should count as 0, and only the exact response "yes" counts', () => {
    const base = JSON.parse(rsvp({ id: 1, mtime: T, event: 'a' }))
    const lines = [-1, 1.5, '2', null].map((guests, i) => JSON.stringify({ ...base, rsvp_id: i + 1, guests }))
    lines.push(JSON.stringify({ ...base, rsvp_id: 10, guests: undefined }))
    lines.push(rsvp({ id: 20, mtime: T, event: 'a', response: 'YES' }))
    lines.push(rsvp({ id: 21, mtime: T, event: 'a', response: 'maybe' }))
    const e = computeExpected(lines)
    assert.equal(e.valid, 7)
    assert.deepEqual(Object.fromEntries(e.yes), { a: 5 })
    assert.deepEqual(Object.fromEntries(e.attendees), { a: 5 })
  })

  test('invalid messages should be counted and change nothing', () => {
    const good = JSON.parse(rsvp({ id: 5, mtime: T + 100, event: 'a' }))
    const without = (key: string) => JSON.stringify({ ...good, [key]: undefined })
    const invalid = [
      'not json',
      '',
      rsvp({ id: 5, mtime: T + 100, event: 'a' }).slice(0, 40),
      '[1,2]',
      JSON.stringify([good]),
      'null',
      '42',
      '"yes"',
      without('rsvp_id'),
      JSON.stringify({ ...good, rsvp_id: '5' }),
      JSON.stringify({ ...good, rsvp_id: 0 }),
      JSON.stringify({ ...good, rsvp_id: -5 }),
      JSON.stringify({ ...good, rsvp_id: 5.5 }),
      JSON.stringify({ ...good, rsvp_id: 2 ** 53 }),
      without('mtime'),
      JSON.stringify({ ...good, mtime: String(T + 100) }),
      JSON.stringify({ ...good, mtime: -1 }),
      JSON.stringify({ ...good, mtime: T + 100.5 }),
      without('response'),
      JSON.stringify({ ...good, response: 1 }),
      JSON.stringify({ ...good, response: null }),
      without('event'),
      JSON.stringify({ ...good, event: null }),
      JSON.stringify({ ...good, event: [good.event] }),
      JSON.stringify({ ...good, event: { ...good.event, event_id: 123 } }),
      JSON.stringify({ ...good, event: { ...good.event, event_id: '' } }),
      JSON.stringify({ ...good, event: { ...good.event, event_id: undefined } }),
    ]
    const before = rsvp({ id: 5, mtime: T, event: 'b' })
    const e = computeExpected([before, ...invalid])
    assert.equal(e.invalid, invalid.length)
    assert.equal(e.valid, 1)
    assert.deepEqual(Object.fromEntries(e.yes), { b: 1 })
    assert.equal(e.current.get(5)?.mtime, T)
    assert.deepEqual([...e.events.keys()], ['b'])
  })

  test('a message without optional parts should still be valid', () => {
    const minimal = JSON.stringify({ rsvp_id: 9, mtime: 0, response: 'yes', event: { event_id: 'x' } })
    const e = computeExpected([minimal])
    assert.equal(e.valid, 1)
    assert.deepEqual(Object.fromEntries(e.yes), { x: 1 })
    assert.deepEqual(e.events.get('x'), {
      mtime: 0,
      name: undefined,
      url: undefined,
      time: undefined,
      groupId: undefined,
      venueId: undefined,
    })
    assert.deepEqual(Object.fromEntries(e.yesByDay), { '1970-01-01': new Map([['x', 1]]) })
  })

  test('counts per UTC day should follow the current version across midnight', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: MIDNIGHT - 1, event: 'a' }),
      rsvp({ id: 2, mtime: MIDNIGHT, event: 'a', guests: 1 }),
      rsvp({ id: 3, mtime: MIDNIGHT - 5_000, event: 'b' }),
      // RSVP 3 changes again after midnight: it now counts on the 2nd only
      rsvp({ id: 3, mtime: MIDNIGHT + 5_000, event: 'b', guests: 2 }),
    ])
    assert.deepEqual(e.yesByDay.get('2026-01-01'), new Map([['a', 1]]))
    assert.deepEqual(
      e.yesByDay.get('2026-01-02'),
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    )
    assert.deepEqual(
      e.attendeesByDay.get('2026-01-02'),
      new Map([
        ['a', 2],
        ['b', 3],
      ]),
    )
    assert.deepEqual(topK(e, 10, { day: '2026-01-01' }), [{ eventId: 'a', yes: 1, attendees: 1 }])
    assert.deepEqual(topK(e, 10, { day: '2026-01-02' }), [
      { eventId: 'a', yes: 1, attendees: 2 },
      { eventId: 'b', yes: 1, attendees: 3 },
    ])
    assert.deepEqual(topK(e, 10, { day: '2026-01-03' }), [])
  })

  test('details should come from the message with the greatest mtime, whatever the arrival order', () => {
    const older = rsvp({ id: 1, mtime: T, event: 'a', eventName: 'Old name', eventTime: 1, venueId: 3, groupId: 8 })
    const newer = rsvp({ id: 2, mtime: T + 1, event: 'a', eventName: 'New name', venueId: 4, groupId: 8 })
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const e = computeExpected(order)
      assert.deepEqual(e.events.get('a'), {
        mtime: T + 1,
        name: 'New name',
        url: 'https://www.example.com/g/events/a/',
        time: undefined,
        groupId: 8,
        venueId: 4,
      })
      assert.equal(e.venues.get(3)?.mtime, T)
      assert.equal(e.venues.get(4)?.mtime, T + 1)
    }
  })

  test('a version that is stale for its RSVP should still update the details of its event', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T + 50, event: 'a', eventName: 'A current' }),
      rsvp({ id: 2, mtime: T, event: 'b', eventName: 'B first' }),
      rsvp({ id: 1, mtime: T + 10, event: 'b', eventName: 'B later', response: 'no' }),
    ])
    assert.equal(e.current.get(1)?.eventId, 'a')
    assert.equal(e.events.get('b')?.name, 'B later')
    assert.deepEqual(Object.fromEntries(e.yes), { a: 1, b: 1 })
  })

  test('group and venue details should be kept per id, with 0 coordinates as unknown', () => {
    const e = computeExpected([
      rsvp({ id: 1, mtime: T + 5, event: 'a', groupId: 8, groupName: 'Newer', venueId: 3, venueLat: 0 }),
      rsvp({ id: 2, mtime: T, event: 'b', groupId: 8, groupName: 'Older', venueId: 3, venueName: 'Old hall' }),
      rsvp({ id: 3, mtime: T, event: 'c', groupId: 9, groupName: 'Other' }),
    ])
    assert.deepEqual(e.groups.get(8), {
      mtime: T + 5,
      name: 'Newer',
      urlname: 'Walkers',
      city: 'Alderton',
      country: 'gb',
      state: undefined,
      lat: 53.2,
      lon: -1.5,
      topics: [{ urlkey: 'hiking', name: 'Hiking' }],
    })
    assert.equal(e.groups.get(9)?.name, 'Other')
    assert.deepEqual(e.venues.get(3), { mtime: T + 5, name: 'Hall', lat: undefined, lon: 2.5 })
    assert.equal(e.events.get('b')?.groupId, 8)
  })

  test('equal mtimes should give the details of the greater rsvp_id, in any order', () => {
    const a1 = rsvp({ id: 1, mtime: T, event: 'a', eventName: 'One' })
    const a2 = rsvp({ id: 2, mtime: T, event: 'a', eventName: 'Two' })
    const same = rsvp({ id: 3, mtime: T, event: 'b' })
    for (const order of [
      [a1, a2, same, same],
      [a2, a1, same],
    ]) {
      const e = computeExpected(order)
      assert.equal(e.ambiguous.events.size, 0)
      assert.equal(e.events.get('a')?.name, 'Two')
    }
    const newer = computeExpected([a1, a2, rsvp({ id: 1, mtime: T + 1, event: 'a', eventName: 'Three' })])
    assert.equal(newer.events.get('a')?.name, 'Three')
  })

  test('one RSVP sent twice at one mtime with other details should be reported as ambiguous', () => {
    const first = rsvp({ id: 1, mtime: T, event: 'a', eventName: 'One' })
    const again = rsvp({ id: 1, mtime: T, event: 'a', eventName: 'Other' })
    const e = computeExpected([first, again])
    assert.deepEqual([...e.ambiguous.events], ['a'])
    assert.equal(e.events.get('a')?.name, 'One')
  })
})

describe('topK', () => {
  const stream = [
    ...['b', 'a', 'c', '10', '9'].map((event, i) => rsvp({ id: i + 1, mtime: T, event })),
    rsvp({ id: 10, mtime: T, event: 'z' }),
    rsvp({ id: 11, mtime: T, event: 'z', guests: 4 }),
    rsvp({ id: 12, mtime: T, event: 'n', response: 'no' }),
  ]
  const e = computeExpected(stream)

  test('should order by yes descending, then event_id ascending in byte order', () => {
    assert.deepEqual(
      topK(e, 10).map((r) => r.eventId),
      ['z', '10', '9', 'a', 'b', 'c'],
    )
    assert.deepEqual(topK(e, 1), [{ eventId: 'z', yes: 2, attendees: 6 }])
    assert.deepEqual(
      topK(e, 3).map((r) => r.eventId),
      ['z', '10', '9'],
    )
  })

  test('should compare event ids by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FFFD encodes as EF BF BD and U+1F600 as F0 9F 98 80, but in UTF-16 U+1F600 starts with D83D
    const odd = computeExpected([rsvp({ id: 1, mtime: T, event: '😀' }), rsvp({ id: 2, mtime: T, event: '\uFFFD' })])
    assert.deepEqual(
      topK(odd, 2).map((r) => r.eventId),
      ['\uFFFD', '😀'],
    )
    assert.ok('😀' < '\uFFFD', 'the plain < operator would have ordered them the other way')
  })

  test('should leave out events without a yes and accept k of 0', () => {
    assert.ok(!topK(e, 100).some((r) => r.eventId === 'n'))
    assert.equal(topK(e, 100).length, 6)
    assert.deepEqual(topK(e, 0), [])
    assert.throws(() => topK(e, -1), RangeError)
    assert.throws(() => topK(e, 1.5), RangeError)
  })

  test('a [from, to) window should include from and exclude to', () => {
    const w = computeExpected([
      rsvp({ id: 1, mtime: 1000, event: 'a' }),
      rsvp({ id: 2, mtime: 1999, event: 'b' }),
      rsvp({ id: 3, mtime: 2000, event: 'c' }),
      rsvp({ id: 4, mtime: 999, event: 'd' }),
    ])
    const ids = (options: { from?: number; to?: number }) => topK(w, 10, options).map((r) => r.eventId)
    assert.deepEqual(ids({ from: 1000, to: 2000 }), ['a', 'b'])
    assert.deepEqual(ids({ from: 1000 }), ['a', 'b', 'c'])
    assert.deepEqual(ids({ to: 1000 }), ['d'])
    assert.deepEqual(ids({ from: 2000, to: 2000 }), [])
  })

  test('a window should use the current version only', () => {
    const w = computeExpected([rsvp({ id: 1, mtime: 1500, event: 'a' }), rsvp({ id: 1, mtime: 2500, event: 'a' })])
    assert.deepEqual(topK(w, 10, { from: 1000, to: 2000 }), [])
    assert.deepEqual(topK(w, 10, { from: 2000, to: 3000 }), [{ eventId: 'a', yes: 1, attendees: 1 }])
  })

  test('should agree with the yes and attendees maps when unfiltered', () => {
    for (const row of topK(e, 100)) {
      assert.equal(row.yes, e.yes.get(row.eventId))
      assert.equal(row.attendees, e.attendees.get(row.eventId))
    }
  })
})

describe('utcDay', () => {
  test('should name the UTC day on both sides of midnight', () => {
    assert.equal(utcDay(MIDNIGHT - 1), '2026-01-01')
    assert.equal(utcDay(MIDNIGHT), '2026-01-02')
    assert.equal(utcDay(0), '1970-01-01')
    assert.equal(utcDay(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), '9999-12-31')
  })
})

describe('computeExpected, rule 6 at its edges', () => {
  const base = JSON.parse(rsvp({ id: 1, mtime: T, event: 'a' }))
  const line = (overrides: Record<string, unknown>) => JSON.stringify({ ...base, ...overrides })
  const validity = (value: string | Buffer | null) => computeExpected([value]).valid === 1

  test('should take mtimes up to the last millisecond of year 9999 and no later', () => {
    assert.equal(validity(line({ mtime: 253_402_300_799_999 })), true)
    assert.equal(validity(line({ mtime: 253_402_300_800_000 })), false)
    assert.equal(validity(line({ mtime: -1 })), false)
  })

  test('should take event ids of up to 255 units without NUL or unpaired surrogates', () => {
    assert.equal(validity(line({ event: { event_id: 'e'.repeat(255) } })), true)
    assert.equal(validity(line({ event: { event_id: 'e'.repeat(256) } })), false)
    assert.equal(validity(line({ event: { event_id: 'a\u0000b' } })), false)
    assert.equal(validity(line({ event: { event_id: 'a\ud800b' } })), false)
    assert.equal(validity(line({ event: { event_id: '\u{1F600}' } })), true)
  })

  test('should call empty, null and non-UTF-8 values invalid', () => {
    assert.equal(validity(null), false)
    assert.equal(validity(''), false)
    assert.equal(validity(Buffer.from([0x7b, 0xff, 0x7d])), false)
    assert.equal(validity(Buffer.from(line({}))), true)
  })

  test('should count guests only from 0 to 1000', () => {
    const attendees = (guests: unknown) => computeExpected([line({ guests })]).attendees.get('a')
    assert.equal(attendees(1000), 1001)
    assert.equal(attendees(1001), 1)
    assert.equal(attendees(2 ** 53), 1)
  })

  test('should keep free text in the closest form storage holds', () => {
    const e = computeExpected([line({ event: { event_id: 'a', event_name: `x\u0000y\udc00${'z'.repeat(2000)}` } })])
    const name = e.events.get('a')?.name ?? ''
    assert.equal(name.slice(0, 4), 'x\uFFFDy\uFFFD')
    assert.equal(name.length, 1000)
    const pair = computeExpected([line({ event: { event_id: 'a', event_name: `${'z'.repeat(999)}\u{1F600}` } })])
    assert.equal(pair.events.get('a')?.name, 'z'.repeat(999), 'a pair is never cut in half')
  })
})
