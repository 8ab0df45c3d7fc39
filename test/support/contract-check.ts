/**
 * Compares what PostgreSQL holds with what the counting contract says for a stream (the oracle
 * in contract-oracle.ts): every count, per-day and per-hour count, and every event's and group's
 * details. Used by the tests (which assert there are no differences) and by the chaos suite
 * (which reports them).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import type { Postgres } from '../../src/store/postgres.ts'
import { computeExpected, type Expected } from './contract-oracle.ts'

/** A message value as the oracle takes it. */
export type StreamValue = string | Buffer | null

interface StoredState {
  yes: Map<string, number>
  attendees: Map<string, number>
  yesByDay: Map<string, Map<string, number>>
  /** 'hour start (epoch ms) event_id' -> yes count */
  yesByHour: Map<string, number>
  rsvps: number
}

async function readState(db: Postgres): Promise<StoredState> {
  // Every row with a non-zero count: a count pushed below zero must show, not hide behind "> 0".
  const events = await db.query<{ event_id: string; yes_rsvps: number; attendees: number }>(
    'SELECT event_id, yes_rsvps, attendees FROM events WHERE yes_rsvps <> 0 OR attendees <> 0',
  )
  const days = await db.query<{ day: string; event_id: string; yes_rsvps: number }>(
    "SELECT to_char(day, 'YYYY-MM-DD') AS day, event_id, yes_rsvps FROM event_day_counts WHERE yes_rsvps <> 0 OR attendees <> 0",
  )
  const hours = await db.query<{ hour_start: number; event_id: string; yes_rsvps: number }>(
    'SELECT hour_start, event_id, yes_rsvps FROM event_hour_counts WHERE yes_rsvps <> 0 OR attendees <> 0',
  )
  const rsvps = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rsvps')
  const yesByDay = new Map<string, Map<string, number>>()
  for (const row of days.rows) {
    if (!yesByDay.has(row.day)) yesByDay.set(row.day, new Map())
    yesByDay.get(row.day)?.set(row.event_id, row.yes_rsvps)
  }
  return {
    yes: new Map(events.rows.map((r) => [r.event_id, r.yes_rsvps])),
    attendees: new Map(events.rows.map((r) => [r.event_id, r.attendees])),
    yesByDay,
    yesByHour: new Map(hours.rows.map((r) => [`${r.hour_start} ${r.event_id}`, r.yes_rsvps])),
    rsvps: rsvps.rows[0]?.n ?? 0,
  }
}

/** The same as the stored hour counts, from the oracle's current versions. */
function yesByHour(expected: Expected): Map<string, number> {
  const counts = new Map<string, number>()
  for (const version of expected.current.values()) {
    if (version.response !== 'yes') continue
    const key = `${Math.floor(version.mtime / 3_600_000) * 3_600_000} ${version.eventId}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}

function positive(map: Map<string, number>): Map<string, number> {
  return new Map([...map].filter(([, n]) => n > 0))
}

/** A few differences between two maps, for a readable report. */
function mapDifferences<V>(label: string, got: Map<string, V>, want: Map<string, V>): string[] {
  if (isDeepStrictEqual(got, want)) return []
  const samples: string[] = []
  for (const [key, value] of want) {
    if (!isDeepStrictEqual(got.get(key), value)) samples.push(`${key}: got ${show(got.get(key))}, want ${show(value)}`)
    if (samples.length === 3) break
  }
  for (const key of got.keys()) {
    if (samples.length === 5) break
    if (!want.has(key)) samples.push(`${key}: got ${show(got.get(key))}, want none`)
  }
  return [`${label} differ (${got.size} stored, ${want.size} expected): ${samples.join('; ')}`]
}

function show(value: unknown): string {
  const text = JSON.stringify(value instanceof Map ? Object.fromEntries(value) : value) ?? 'undefined'
  return text.length > 120 ? `${text.slice(0, 120)}…` : text
}

export type Expectation = ReturnType<typeof expectationOf>

/** The oracle's expectation for a stream, with the parts that are checked. */
export function expectationOf(values: readonly StreamValue[]) {
  const expected = computeExpected(values)
  const yes = positive(expected.yes)
  return {
    expected,
    yes,
    attendees: new Map([...expected.attendees].filter(([id]) => yes.has(id))),
    yesByDay: new Map(
      [...expected.yesByDay].map(([day, m]) => [day, positive(m)] as const).filter(([, m]) => m.size > 0),
    ),
    yesByHour: yesByHour(expected),
  }
}

/** Everything in which the database differs from the contract's expectation; empty when exact. */
export async function storeDifferences(db: Postgres, want: Expectation): Promise<string[]> {
  const state = await readState(db)
  const differences: string[] = []
  if (state.rsvps !== want.expected.current.size) {
    differences.push(`${state.rsvps} RSVPs stored, ${want.expected.current.size} distinct valid ones sent`)
  }
  differences.push(
    ...mapDifferences('yes counts per event', state.yes, want.yes),
    ...mapDifferences('attendees per event', state.attendees, want.attendees),
    ...mapDifferences('yes counts per event and UTC day', state.yesByDay, want.yesByDay),
    ...mapDifferences('yes counts per event and UTC hour', state.yesByHour, want.yesByHour),
    ...(await detailDifferences(db, want.expected)),
  )
  return differences
}

/** Rule 5: each event's and group's details are those of its newest message. */
async function detailDifferences(db: Postgres, expected: Expected): Promise<string[]> {
  const events = await db.query<{
    event_id: string
    details_mtime: number
    name: string | null
    time_ms: number | null
    group_id: number | null
    venue_id: number | null
  }>('SELECT event_id, details_mtime, name, time_ms, group_id, venue_id FROM events')
  const stored = new Map<string, unknown>()
  const wanted = new Map<string, unknown>()
  for (const row of events.rows) {
    if (expected.ambiguous.events.has(row.event_id)) continue
    stored.set(row.event_id, {
      mtime: row.details_mtime,
      name: row.name,
      time: row.time_ms,
      groupId: row.group_id,
      venueId: row.venue_id,
    })
  }
  for (const [eventId, want] of expected.events) {
    if (expected.ambiguous.events.has(eventId)) continue
    wanted.set(eventId, {
      mtime: want.mtime,
      name: want.name ?? null,
      time: want.time ?? null,
      groupId: want.groupId ?? null,
      venueId: want.venueId ?? null,
    })
  }
  const groups = await db.query<{ group_id: number; mtime: number; name: string | null; city: string | null }>(
    'SELECT group_id, mtime, name, city FROM groups',
  )
  const storedGroups = new Map<string, unknown>()
  const wantedGroups = new Map<string, unknown>()
  for (const row of groups.rows) {
    if (expected.ambiguous.groups.has(row.group_id)) continue
    storedGroups.set(String(row.group_id), { mtime: row.mtime, name: row.name, city: row.city })
  }
  for (const [groupId, want] of expected.groups) {
    if (expected.ambiguous.groups.has(groupId)) continue
    wantedGroups.set(String(groupId), { mtime: want.mtime, name: want.name ?? null, city: want.city ?? null })
  }
  return [
    ...mapDifferences('event details', stored, wanted),
    ...mapDifferences('group details', storedGroups, wantedGroups),
  ]
}

/**
 * Waits (up to timeoutMs) until the database holds what the contract says for `values`, and
 * returns the differences left (empty when it got there) and how long it took.
 */
export async function waitForContract(
  db: Postgres,
  values: readonly StreamValue[] | Expectation,
  timeoutMs: number,
): Promise<{ differences: string[]; seconds: number }> {
  const want = Array.isArray(values) ? expectationOf(values) : (values as Expectation)
  const started = performance.now()
  const deadline = Date.now() + timeoutMs
  // The cheap part first, polled; the details only once the counts agree.
  for (;;) {
    const state = await readState(db)
    if (state.rsvps === want.expected.current.size && isDeepStrictEqual(state.yes, want.yes)) break
    if (Date.now() >= deadline) break
    await sleep(250)
  }
  const seconds = (performance.now() - started) / 1000
  return { differences: await storeDifferences(db, want), seconds }
}
