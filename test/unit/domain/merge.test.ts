import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type CountDeltas,
  countDeltas,
  createBatchPlanner,
  type DetailsAt,
  hourStartOf,
  planBatch,
  supersedes,
  toCandidate,
  type VersionChange,
} from '../../../src/domain/merge.ts'
import type { GroupDetails, Rsvp, RsvpVersion, VenueDetails } from '../../../src/domain/rsvp.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
// 2021-03-01T12:00:00Z: mid-day, so small offsets stay on one UTC day.
const NOON = Date.parse('2021-03-01T12:00:00Z')

const candidatesOf = (batch: readonly Rsvp[]) => planBatch(batch).candidates
const detailsOf = (batch: readonly Rsvp[]) => planBatch(batch).details

interface RsvpSpec {
  rsvpId?: number
  mtime?: number
  response?: string
  guests?: number
  eventId?: string
  eventName?: string
  group?: GroupDetails
  venue?: VenueDetails
}

function rsvp(spec: RsvpSpec = {}): Rsvp {
  const eventId = spec.eventId ?? 'ev1'
  return {
    rsvpId: spec.rsvpId ?? 1,
    mtime: spec.mtime ?? NOON,
    response: spec.response ?? 'yes',
    guests: spec.guests ?? 0,
    event: { eventId, name: spec.eventName ?? `Event ${eventId}`, url: undefined, time: undefined },
    group: spec.group,
    venue: spec.venue,
  }
}

function version(spec: Partial<RsvpVersion> = {}): RsvpVersion {
  return { rsvpId: 1, mtime: NOON, eventId: 'ev1', response: 'yes', guests: 0, ...spec }
}

function group(groupId: number, name: string): GroupDetails {
  return {
    groupId,
    name,
    urlname: undefined,
    city: undefined,
    country: undefined,
    state: undefined,
    lat: undefined,
    lon: undefined,
    topics: [],
  }
}

function venue(venueId: number, name: string): VenueDetails {
  return { venueId, name, lat: undefined, lon: undefined }
}

const NO_DELTAS: CountDeltas = { events: [], days: [], hours: [] }

describe('supersedes', () => {
  test('should accept any version when there is no current one', () => {
    assert.equal(supersedes({ mtime: 0 }, undefined), true)
  })

  test('should accept a strictly newer mtime', () => {
    assert.equal(supersedes({ mtime: 1001 }, { mtime: 1000 }), true)
  })

  test('should refuse an equal mtime', () => {
    assert.equal(supersedes({ mtime: 1000 }, { mtime: 1000 }), false)
  })

  test('should refuse an older mtime (stale update or truncated-mtime resend)', () => {
    assert.equal(supersedes({ mtime: 1_489_925_470_000 }, { mtime: 1_489_925_470_960 }), false)
  })
})

describe('toCandidate', () => {
  test('should keep what counting needs, and nothing of who made the version', () => {
    const full = rsvp({ rsvpId: 42, mtime: 123, response: 'no', guests: 3, eventId: 'abc' })
    assert.deepEqual(toCandidate(full), {
      rsvpId: 42,
      mtime: 123,
      eventId: 'abc',
      response: 'no',
      guests: 3,
    })
  })
})

describe('createBatchPlanner', () => {
  test('should give the plan of the whole batch however it is fed, and count every message', () => {
    const batch = [
      rsvp({ rsvpId: 3, mtime: NOON, group: group(1, 'old') }),
      rsvp({ rsvpId: 3, mtime: NOON + 5, response: 'no', group: group(1, 'newer') }),
      rsvp({ rsvpId: 1, mtime: NOON + 1, venue: venue(7, 'v') }),
      rsvp({ rsvpId: 3, mtime: NOON + 2, group: group(1, 'stale') }),
    ]
    const planner = createBatchPlanner()
    for (const r of batch) planner.add(r)
    const plan = planner.finish()
    assert.deepEqual(plan, planBatch(batch))
    assert.equal(plan.messages, 4)
    assert.deepEqual(
      plan.candidates.map((c) => [c.rsvpId, c.mtime]),
      [
        [1, NOON + 1],
        [3, NOON + 5],
      ],
    )
    assert.deepEqual(
      plan.details.groups.map((g) => g.details.name),
      ['newer'],
    )
  })
})

describe('planBatch: candidates', () => {
  test('should return nothing for an empty batch', () => {
    assert.deepEqual(candidatesOf([]), [])
  })

  test('should collapse byte-identical resends into one', () => {
    const a = rsvp({ rsvpId: 7 })
    const result = candidatesOf([a, { ...a }, { ...a }])
    assert.equal(result.length, 1)
    assert.deepEqual(result[0], toCandidate(a))
  })

  test('should keep the newer version when a truncated-mtime resend arrives after it', () => {
    const precise = rsvp({ rsvpId: 7, mtime: 1_489_925_470_960, guests: 1 })
    const truncated = { ...precise, mtime: 1_489_925_470_000 }
    assert.deepEqual(candidatesOf([precise, truncated]), [toCandidate(precise)])
  })

  test('should keep the greatest mtime whatever the arrival order', () => {
    const v1 = rsvp({ rsvpId: 7, mtime: 1000, response: 'yes' })
    const v2 = rsvp({ rsvpId: 7, mtime: 2000, response: 'no' })
    const v3 = rsvp({ rsvpId: 7, mtime: 3000, response: 'yes', guests: 2 })
    assert.deepEqual(candidatesOf([v2, v3, v1]), [toCandidate(v3)])
    assert.deepEqual(candidatesOf([v3, v1, v2]), [toCandidate(v3)])
    assert.deepEqual(candidatesOf([v1, v2, v3]), [toCandidate(v3)])
  })

  test('should keep the earlier version on an equal mtime', () => {
    const first = rsvp({ rsvpId: 7, mtime: 1000, response: 'yes' })
    const second = rsvp({ rsvpId: 7, mtime: 1000, response: 'no' })
    assert.deepEqual(candidatesOf([first, second]), [toCandidate(first)])
    assert.deepEqual(candidatesOf([second, first]), [toCandidate(second)])
  })

  test('should return one version per rsvpId sorted by rsvpId ascending (numerically)', () => {
    const batch = [
      rsvp({ rsvpId: 30 }),
      rsvp({ rsvpId: 4 }),
      rsvp({ rsvpId: 100 }),
      rsvp({ rsvpId: 4, mtime: NOON + 1 }),
    ]
    const result = candidatesOf(batch)
    assert.deepEqual(
      result.map((r) => [r.rsvpId, r.mtime]),
      [
        [4, NOON + 1],
        [30, NOON],
        [100, NOON],
      ],
    )
  })
})

describe('countDeltas', () => {
  test('should count a new yes as +1 yes and +(1 + guests) attendees on its event and day', () => {
    const deltas = countDeltas([{ before: undefined, after: version({ eventId: 'e', guests: 2 }) }])
    assert.deepEqual(deltas, {
      events: [{ eventId: 'e', yes: 1, attendees: 3 }],
      days: [{ day: '2021-03-01', eventId: 'e', yes: 1, attendees: 3 }],
      hours: [{ hourStart: NOON, eventId: 'e', yes: 1, attendees: 3 }],
    })
  })

  test('should count nothing for a new no', () => {
    assert.deepEqual(countDeltas([{ before: undefined, after: version({ response: 'no', guests: 4 }) }]), NO_DELTAS)
  })

  test('should count nothing for responses other than exactly yes', () => {
    const changes: VersionChange[] = ['Yes', 'YES', ' yes', 'maybe', 'waitlist', ''].map((response, i) => ({
      before: undefined,
      after: version({ rsvpId: i + 1, response }),
    }))
    assert.deepEqual(countDeltas(changes), NO_DELTAS)
  })

  test('should take a yes that becomes no out of the counts', () => {
    const before = version({ mtime: NOON, guests: 1 })
    const after = version({ mtime: NOON + 1, response: 'no', guests: 1 })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [{ eventId: 'ev1', yes: -1, attendees: -2 }],
      days: [{ day: '2021-03-01', eventId: 'ev1', yes: -1, attendees: -2 }],
      hours: [{ hourStart: NOON, eventId: 'ev1', yes: -1, attendees: -2 }],
    })
  })

  test('should put a no that becomes yes into the counts', () => {
    const before = version({ mtime: NOON, response: 'no' })
    const after = version({ mtime: NOON + 1, guests: 3 })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [{ eventId: 'ev1', yes: 1, attendees: 4 }],
      days: [{ day: '2021-03-01', eventId: 'ev1', yes: 1, attendees: 4 }],
      hours: [{ hourStart: NOON, eventId: 'ev1', yes: 1, attendees: 4 }],
    })
  })

  test('should move only attendees when a yes changes its guests', () => {
    const before = version({ mtime: NOON, guests: 1 })
    const after = version({ mtime: NOON + 1, guests: 4 })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [{ eventId: 'ev1', yes: 0, attendees: 3 }],
      days: [{ day: '2021-03-01', eventId: 'ev1', yes: 0, attendees: 3 }],
      hours: [{ hourStart: NOON, eventId: 'ev1', yes: 0, attendees: 3 }],
    })
    assert.deepEqual(countDeltas([{ before: after, after: before }]).events, [
      { eventId: 'ev1', yes: 0, attendees: -3 },
    ])
  })

  test('should count nothing when a no changes its guests', () => {
    const before = version({ response: 'no', guests: 1 })
    assert.deepEqual(countDeltas([{ before, after: { ...before, mtime: NOON + 1, guests: 5 } }]), NO_DELTAS)
  })

  test('should move a yes between days in UTC (23:59:59.999 to 00:00:00.000) without changing the event count', () => {
    const before = version({ mtime: Date.parse('2021-03-01T23:59:59.999Z') })
    const after = version({ mtime: Date.parse('2021-03-02T00:00:00.000Z') })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [],
      days: [
        { day: '2021-03-01', eventId: 'ev1', yes: -1, attendees: -1 },
        { day: '2021-03-02', eventId: 'ev1', yes: 1, attendees: 1 },
      ],
      hours: [
        { hourStart: Date.parse('2021-03-01T23:00:00Z'), eventId: 'ev1', yes: -1, attendees: -1 },
        { hourStart: Date.parse('2021-03-02T00:00:00Z'), eventId: 'ev1', yes: 1, attendees: 1 },
      ],
    })
  })

  test('should move a yes from one event to another', () => {
    const before = version({ eventId: 'old', guests: 1 })
    const after = version({ mtime: NOON + 1, eventId: 'new', guests: 1 })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [
        { eventId: 'new', yes: 1, attendees: 2 },
        { eventId: 'old', yes: -1, attendees: -2 },
      ],
      days: [
        { day: '2021-03-01', eventId: 'new', yes: 1, attendees: 2 },
        { day: '2021-03-01', eventId: 'old', yes: -1, attendees: -2 },
      ],
      hours: [
        { hourStart: NOON, eventId: 'new', yes: 1, attendees: 2 },
        { hourStart: NOON, eventId: 'old', yes: -1, attendees: -2 },
      ],
    })
  })

  test('should give nothing for a change to an identical version', () => {
    const same = version({ guests: 2 })
    assert.deepEqual(countDeltas([{ before: same, after: same }]), NO_DELTAS)
  })

  test('should sum several RSVPs of one event and drop entries that net to zero', () => {
    const changes: VersionChange[] = [
      { before: undefined, after: version({ rsvpId: 1, eventId: 'a', guests: 1 }) },
      { before: undefined, after: version({ rsvpId: 2, eventId: 'a', guests: 0 }) },
      { before: version({ rsvpId: 3, eventId: 'b' }), after: version({ rsvpId: 3, eventId: 'b', response: 'no' }) },
      { before: undefined, after: version({ rsvpId: 4, eventId: 'b' }) },
    ]
    assert.deepEqual(countDeltas(changes), {
      events: [{ eventId: 'a', yes: 2, attendees: 3 }],
      days: [{ day: '2021-03-01', eventId: 'a', yes: 2, attendees: 3 }],
      hours: [{ hourStart: NOON, eventId: 'a', yes: 2, attendees: 3 }],
    })
  })

  test('should sort events by eventId and days by day then eventId, in plain string order', () => {
    const ids = ['b', 'a', 'B', '10', '9']
    const changes: VersionChange[] = []
    let rsvpId = 1
    for (const day of [NOON + DAY, NOON]) {
      for (const eventId of ids)
        changes.push({ before: undefined, after: version({ rsvpId: rsvpId++, mtime: day, eventId }) })
    }
    const deltas = countDeltas(changes)
    assert.deepEqual(
      deltas.events.map((d) => d.eventId),
      ['10', '9', 'B', 'a', 'b'],
    )
    assert.deepEqual(
      deltas.days.map((d) => `${d.day} ${d.eventId}`),
      [
        '2021-03-01 10',
        '2021-03-01 9',
        '2021-03-01 B',
        '2021-03-01 a',
        '2021-03-01 b',
        '2021-03-02 10',
        '2021-03-02 9',
        '2021-03-02 B',
        '2021-03-02 a',
        '2021-03-02 b',
      ],
    )
    assert.ok(deltas.events.every((d) => d.yes === 2 && d.attendees === 2))
  })

  test('should move a yes between UTC hours of the same day (12:59:59.999 to 13:00:00.000) on hours only', () => {
    const before = version({ mtime: Date.parse('2021-03-01T12:59:59.999Z'), guests: 1 })
    const after = version({ mtime: Date.parse('2021-03-01T13:00:00.000Z'), guests: 1 })
    assert.deepEqual(countDeltas([{ before, after }]), {
      events: [],
      days: [],
      hours: [
        { hourStart: NOON, eventId: 'ev1', yes: -1, attendees: -2 },
        { hourStart: NOON + HOUR, eventId: 'ev1', yes: 1, attendees: 2 },
      ],
    })
  })

  test('should sort hours by time, not as text, and key them by the start of the hour', () => {
    const mtimes = [NOON + 10 * DAY + 59 * 60_000, NOON + 9 * HOUR, NOON - 3 * HOUR + 1]
    const changes: VersionChange[] = mtimes.map((mtime, i) => ({
      before: undefined,
      after: version({ rsvpId: i, mtime }),
    }))
    assert.deepEqual(
      countDeltas(changes).hours.map((h) => h.hourStart),
      [NOON - 3 * HOUR, NOON + 9 * HOUR, NOON + 10 * DAY],
    )
  })

  test('hourStartOf should floor to the UTC hour, also before 1970', () => {
    assert.equal(hourStartOf(Date.parse('2021-03-01T12:34:56.789Z')), NOON)
    assert.equal(hourStartOf(NOON), NOON)
    assert.equal(hourStartOf(-1), -HOUR)
  })
})

describe('planBatch: details', () => {
  test('should return empty lists for an empty batch', () => {
    assert.deepEqual(detailsOf([]), { events: [], groups: [], venues: [] })
  })

  test('should take event details from the greatest mtime regardless of arrival order', () => {
    const older = rsvp({ rsvpId: 1, mtime: 1000, eventId: 'e', eventName: 'Old name' })
    const newer = rsvp({ rsvpId: 2, mtime: 2000, eventId: 'e', eventName: 'New name' })
    for (const batch of [
      [older, newer],
      [newer, older],
    ]) {
      const events = detailsOf(batch).events
      assert.equal(events.length, 1)
      assert.equal(events[0]?.mtime, 2000)
      assert.equal(events[0]?.details.name, 'New name')
    }
  })

  test('should take group and venue details from the greatest mtime regardless of arrival order', () => {
    const older = rsvp({
      rsvpId: 1,
      mtime: 1000,
      group: group(5, 'g-old'),
      venue: venue(6, 'v-old'),
    })
    const newer = rsvp({
      rsvpId: 2,
      mtime: 2000,
      group: group(5, 'g-new'),
      venue: venue(6, 'v-new'),
    })
    for (const batch of [
      [older, newer],
      [newer, older],
    ]) {
      const details = detailsOf(batch)
      assert.deepEqual(details.groups, [{ mtime: 2000, rsvpId: 2, details: group(5, 'g-new') }])
      assert.deepEqual(details.venues, [{ mtime: 2000, rsvpId: 2, details: venue(6, 'v-new') }])
    }
  })

  test('should take the greater rsvp_id on an equal mtime, whatever the arrival order', () => {
    const lower = rsvp({ rsvpId: 1, mtime: 1000, eventId: 'e', eventName: 'Lower', group: group(5, 'lower') })
    const higher = rsvp({ rsvpId: 2, mtime: 1000, eventId: 'e', eventName: 'Higher', group: group(5, 'higher') })
    for (const batch of [
      [lower, higher],
      [higher, lower],
    ]) {
      const details = detailsOf(batch)
      assert.equal(details.events[0]?.details.name, 'Higher')
      assert.equal(details.groups[0]?.details.name, 'higher')
      assert.equal(details.groups[0]?.rsvpId, 2)
    }
  })

  test('should use messages that lose rule 1', () => {
    // RSVP 1 moved from event "f" to "e": its superseded version is still the only word on "f".
    // RSVP 2's superseded versions carry the newest word on groups 5 and 9.
    const oneCurrent = rsvp({ rsvpId: 1, mtime: 3000, eventId: 'e', group: group(5, 'older group name') })
    const oneSuperseded = rsvp({ rsvpId: 1, mtime: 1000, eventId: 'f', group: group(5, 'oldest group name') })
    const twoSupersededA = rsvp({ rsvpId: 2, mtime: 5000, response: 'no', eventId: 'e', group: group(9, 'g9') })
    const twoSupersededB = rsvp({ rsvpId: 2, mtime: 4000, eventId: 'e', group: group(5, 'newest group name') })
    const twoCurrent = rsvp({ rsvpId: 2, mtime: 6000, eventId: 'e' })
    const batch = [oneCurrent, oneSuperseded, twoSupersededA, twoSupersededB, twoCurrent]
    assert.deepEqual(
      candidatesOf(batch).map((r) => r.mtime),
      [3000, 6000],
    )
    const details = detailsOf(batch)
    assert.deepEqual(
      details.events.map((e) => [e.details.eventId, e.mtime]),
      [
        ['e', 6000],
        ['f', 1000],
      ],
    )
    assert.deepEqual(
      details.groups.map((g) => [g.details.groupId, g.details.name, g.mtime]),
      [
        [5, 'newest group name', 4000],
        [9, 'g9', 5000],
      ],
    )
  })

  test('should link the event to the group and venue of its winning message only', () => {
    const withVenue = rsvp({ rsvpId: 1, mtime: 1000, eventId: 'e', group: group(5, 'g'), venue: venue(6, 'v') })
    const withoutVenue = rsvp({ rsvpId: 2, mtime: 2000, eventId: 'e', group: group(8, 'moved') })
    const details = detailsOf([withVenue, withoutVenue])
    assert.deepEqual(details.events, [
      {
        mtime: 2000,
        rsvpId: 2,
        details: { eventId: 'e', name: 'Event e', url: undefined, time: undefined, groupId: 8, venueId: undefined },
      },
    ])
    // The older venue's own details are still the newest word on that venue.
    assert.deepEqual(details.venues, [{ mtime: 1000, rsvpId: 1, details: venue(6, 'v') }])
    assert.deepEqual(
      details.groups.map((g) => g.details.groupId),
      [5, 8],
    )
  })

  test('should skip absent groups and venues', () => {
    const details = detailsOf([rsvp({ rsvpId: 1 })])
    assert.equal(details.events.length, 1)
    assert.deepEqual([details.groups, details.venues], [[], []])
  })

  test('should sort events by eventId and other details by numeric id', () => {
    const batch = [
      rsvp({ rsvpId: 1, eventId: 'b', group: group(10, 'x'), venue: venue(100, 'x') }),
      rsvp({ rsvpId: 2, eventId: 'B', group: group(9, 'y'), venue: venue(99, 'y') }),
      rsvp({ rsvpId: 3, eventId: 'a', group: group(1, 'z'), venue: venue(5, 'z') }),
    ]
    const details = detailsOf(batch)
    assert.deepEqual(
      details.events.map((e) => e.details.eventId),
      ['B', 'a', 'b'],
    )
    assert.deepEqual(
      details.groups.map((g) => g.details.groupId),
      [1, 9, 10],
    )
    assert.deepEqual(
      details.venues.map((v) => v.details.venueId),
      [5, 99, 100],
    )
  })
})

// A store in memory that applies batches the way the real one must: rule 1 per RSVP against the
// stored version, counts moved by countDeltas, details replaced only by a strictly newer mtime.
interface Tally {
  yes: number
  attendees: number
}

interface MemoryState {
  versions: Map<number, RsvpVersion>
  events: Map<string, Tally>
  days: Map<string, Tally>
  details: Map<string, DetailsAt<unknown>>
}

function emptyState(): MemoryState {
  return { versions: new Map(), events: new Map(), days: new Map(), details: new Map() }
}

function applyBatch(state: MemoryState, batch: readonly Rsvp[]): void {
  const changes: VersionChange[] = []
  for (const candidate of candidatesOf(batch)) {
    const current = state.versions.get(candidate.rsvpId)
    if (!supersedes(candidate, current)) continue
    changes.push({ before: current, after: candidate })
    state.versions.set(candidate.rsvpId, candidate)
  }
  const deltas = countDeltas(changes)
  for (const d of deltas.events) addTally(state.events, d.eventId, d)
  for (const d of deltas.days) addTally(state.days, `${d.day} ${d.eventId}`, d)
  const details = detailsOf(batch)
  for (const at of details.events) mergeDetails(state.details, `event ${at.details.eventId}`, at)
  for (const at of details.groups) mergeDetails(state.details, `group ${at.details.groupId}`, at)
  for (const at of details.venues) mergeDetails(state.details, `venue ${at.details.venueId}`, at)
}

function addTally(tallies: Map<string, Tally>, key: string, delta: { yes: number; attendees: number }): void {
  const tally = tallies.get(key) ?? { yes: 0, attendees: 0 }
  tally.yes += delta.yes
  tally.attendees += delta.attendees
  // The database's CHECK constraints: a count never dips below zero, even between batches.
  assert.ok(tally.yes >= 0 && tally.attendees >= 0, `negative count for ${key}`)
  tallies.set(key, tally)
}

function mergeDetails(map: Map<string, DetailsAt<unknown>>, key: string, at: DetailsAt<unknown>): void {
  if (supersedes(at, map.get(key))) map.set(key, at)
}

function nonZero(tallies: Map<string, Tally>): [string, Tally][] {
  return [...tallies.entries()].filter(([, t]) => t.yes !== 0 || t.attendees !== 0).sort(([a], [b]) => (a < b ? -1 : 1))
}

function snapshot(state: MemoryState) {
  return {
    versions: [...state.versions.entries()].sort(([a], [b]) => a - b),
    events: nonZero(state.events),
    days: nonZero(state.days),
    details: [...state.details.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
  }
}

/** The contract computed from scratch, independently of countDeltas and utcDay. */
function expectedSnapshot(messages: readonly Rsvp[]) {
  const newest = new Map<number, Rsvp>()
  for (const m of messages) {
    const current = newest.get(m.rsvpId)
    if (current === undefined || m.mtime > current.mtime) newest.set(m.rsvpId, m)
  }
  const events = new Map<string, Tally>()
  const days = new Map<string, Tally>()
  for (const m of newest.values()) {
    if (m.response !== 'yes') continue
    const day = new Date(m.mtime).toISOString().slice(0, 10)
    for (const [map, key] of [
      [events, m.event.eventId],
      [days, `${day} ${m.event.eventId}`],
    ] as const) {
      const tally = map.get(key) ?? { yes: 0, attendees: 0 }
      tally.yes += 1
      tally.attendees += 1 + m.guests
      map.set(key, tally)
    }
  }
  const details = new Map<string, DetailsAt<unknown>>()
  const offer = (key: string, mtime: number, rsvpId: number, value: unknown) => {
    const current = details.get(key)
    if (current === undefined || mtime > current.mtime || (mtime === current.mtime && rsvpId > current.rsvpId)) {
      details.set(key, { mtime, rsvpId, details: value })
    }
  }
  for (const m of messages) {
    const at = [m.mtime, m.rsvpId] as const
    offer(`event ${m.event.eventId}`, ...at, { ...m.event, groupId: m.group?.groupId, venueId: m.venue?.venueId })
    if (m.group) offer(`group ${m.group.groupId}`, ...at, m.group)
    if (m.venue) offer(`venue ${m.venue.venueId}`, ...at, m.venue)
  }
  const versions = [...newest.values()].map((m) => {
    return [m.rsvpId, toCandidate(m)] as [number, RsvpVersion]
  })
  return {
    versions: versions.sort(([a], [b]) => a - b),
    events: nonZero(events),
    days: nonZero(days),
    details: [...details.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
  }
}

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * A stream with every kind of repeat the real one has: newer versions that flip the response,
 * change guests, move day or event; byte-identical resends; resends with the mtime truncated to
 * whole seconds. Versions have distinct mtimes, so the contract's result is order-independent.
 */
function generateStream(random: () => number): Rsvp[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const eventIds = ['236222256', 'jkpwmlywgbmb', 'B', 'a', 'ä', '🎲']
  const responses = ['yes', 'yes', 'no', 'maybe']
  // Every version's mtime is a distinct non-multiple of 1000, about 40 minutes apart, so versions
  // spread over several UTC days and truncated resends never equal another version's mtime.
  const start = Date.parse('2021-03-01T20:00:00Z')
  let step = 0
  const messages: Rsvp[] = []
  const rsvpCount = 3 + Math.floor(random() * 10)
  for (let rsvpId = 1; rsvpId <= rsvpCount; rsvpId++) {
    const versions = 1 + Math.floor(random() * 4)
    for (let v = 0; v < versions; v++) {
      const mtime = start + step++ * 2_400_000 + 1 + Math.floor(random() * 998)
      const message: Rsvp = {
        rsvpId,
        mtime,
        response: pick(responses),
        guests: Math.floor(random() * 4),
        event: { eventId: pick(eventIds), name: `name at ${mtime}`, url: undefined, time: undefined },
        group: random() < 0.8 ? group(1 + Math.floor(random() * 3), `group at ${mtime}`) : undefined,
        venue: random() < 0.7 ? venue(1 + Math.floor(random() * 3), `venue at ${mtime}`) : undefined,
      }
      messages.push(message)
      if (random() < 0.3) messages.push(structuredClone(message))
      if (random() < 0.3) messages.push({ ...message, mtime: Math.floor(mtime / 1000) * 1000 })
    }
  }
  return messages
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy
}

function randomBatches<T>(items: readonly T[], random: () => number): T[][] {
  const batches: T[][] = []
  let i = 0
  while (i < items.length) {
    const size = 1 + Math.floor(random() * 6)
    batches.push(items.slice(i, i + size))
    i += size
  }
  return batches
}

describe('the counting contract over whole streams', () => {
  test('should count a realistic sequence of versions of one RSVP exactly', () => {
    const state = emptyState()
    const yes = rsvp({ rsvpId: 9, mtime: Date.parse('2021-03-01T23:59:59.999Z'), guests: 1, eventId: 'e' })
    const resend = structuredClone(yes)
    const truncated = { ...yes, mtime: Date.parse('2021-03-01T23:59:59.000Z') }
    const no = { ...yes, mtime: Date.parse('2021-03-02T00:00:00.000Z'), response: 'no' }
    const staleYes = { ...yes, mtime: Date.parse('2021-03-01T10:00:00.000Z'), guests: 5 }
    const yesAgain = { ...yes, mtime: Date.parse('2021-03-02T08:00:00.000Z'), guests: 3 }

    applyBatch(state, [yes])
    assert.deepEqual(snapshot(state).events, [['e', { yes: 1, attendees: 2 }]])
    assert.deepEqual(snapshot(state).days, [['2021-03-01 e', { yes: 1, attendees: 2 }]])
    applyBatch(state, [resend])
    applyBatch(state, [truncated])
    assert.deepEqual(snapshot(state).events, [['e', { yes: 1, attendees: 2 }]])
    applyBatch(state, [no])
    assert.deepEqual(snapshot(state).events, [])
    assert.deepEqual(snapshot(state).days, [])
    applyBatch(state, [staleYes])
    assert.deepEqual(snapshot(state).events, [])
    applyBatch(state, [yesAgain])
    assert.deepEqual(snapshot(state).events, [['e', { yes: 1, attendees: 4 }]])
    assert.deepEqual(snapshot(state).days, [['2021-03-02 e', { yes: 1, attendees: 4 }]])
  })

  test('should give the same state for any arrival order and any split into batches', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed)
      const stream = generateStream(random)
      const expected = expectedSnapshot(stream)

      const inOrder = emptyState()
      applyBatch(inOrder, stream)
      assert.deepEqual(snapshot(inOrder), expected, `seed ${seed}: one batch in order`)

      const oneByOne = emptyState()
      for (const message of stream) applyBatch(oneByOne, [message])
      assert.deepEqual(snapshot(oneByOne), expected, `seed ${seed}: one message per batch`)

      const permuted = emptyState()
      for (const batch of randomBatches(shuffled(stream, random), random)) applyBatch(permuted, batch)
      assert.deepEqual(snapshot(permuted), expected, `seed ${seed}: shuffled and split`)
    }
  })

  test('should change nothing when the whole stream is delivered again in another order', () => {
    for (let seed = 1001; seed <= 1100; seed++) {
      const random = prng(seed)
      const stream = generateStream(random)
      const state = emptyState()
      for (const batch of randomBatches(stream, random)) applyBatch(state, batch)
      const before = structuredClone(snapshot(state))
      for (const batch of randomBatches(shuffled(stream, random), random)) applyBatch(state, batch)
      assert.deepEqual(snapshot(state), before, `seed ${seed}`)
    }
  })

  test('should generate streams that exercise flips, resends and day changes', () => {
    // Guards the property tests above against a generator that quietly stops producing the hard cases.
    let flips = 0
    let resends = 0
    let truncated = 0
    let dayMoves = 0
    for (let seed = 1; seed <= 300; seed++) {
      const stream = generateStream(prng(seed))
      const byId = new Map<number, Rsvp[]>()
      for (const m of stream) byId.set(m.rsvpId, [...(byId.get(m.rsvpId) ?? []), m])
      for (const versions of byId.values()) {
        const mtimes = versions.map((v) => v.mtime)
        if (new Set(versions.map((v) => v.response)).size > 1) flips++
        if (new Set(mtimes).size < mtimes.length) resends++
        if (mtimes.some((t) => t % 1000 === 0)) truncated++
        if (new Set(mtimes.map((t) => Math.floor(t / DAY))).size > 1) dayMoves++
      }
    }
    assert.ok(
      flips > 100 && resends > 100 && truncated > 100 && dayMoves > 100,
      `${flips} ${resends} ${truncated} ${dayMoves}`,
    )
  })
})
