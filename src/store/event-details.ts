/**
 * Event details as the API shows them: the event's own details, its group (with the group's
 * topics) and its venue, each the newest by rule 5 (docs/contract.md). They are read, and cached,
 * as three kinds of entries, because a group or venue changes without its events changing: an
 * event holds only its group's and venue's ids. None holds counts: those change with every RSVP
 * and always come from PostgreSQL.
 */
import type { Queryable } from './postgres.ts'

export interface GroupView {
  readonly id: number
  readonly name: string | null
  readonly urlname: string | null
  readonly city: string | null
  readonly country: string | null
  readonly topics: ReadonlyArray<{ readonly urlkey: string; readonly name: string }>
}

export interface VenueView {
  readonly id: number
  readonly name: string | null
  readonly lat: number | null
  readonly lon: number | null
}

/** An event's own details, with the ids of its group and venue. */
export interface EventOwnDetails {
  readonly event_id: string
  readonly name: string | null
  readonly url: string | null
  /** ISO-8601, or null when the stream gave no time */
  readonly time: string | null
  readonly group_id: number | null
  readonly venue_id: number | null
}

/** What the API shows of an event besides its counts. */
export interface EventDetailsView {
  readonly event_id: string
  readonly name: string | null
  readonly url: string | null
  readonly time: string | null
  readonly group: GroupView | null
  readonly venue: VenueView | null
}

export interface EventCounts {
  readonly yes: number
  readonly attendees: number
}

/** A JavaScript Date covers ±8.64e15 ms; a time outside it has no ISO form. */
function isoTime(ms: number | null): string | null {
  if (ms === null || !(Math.abs(ms) <= 8.64e15)) return null
  return new Date(ms).toISOString()
}

/** The own details of the events that exist, by event_id; unknown ids are simply absent. */
export async function readEvents(db: Queryable, eventIds: readonly string[]): Promise<Map<string, EventOwnDetails>> {
  const found = new Map<string, EventOwnDetails>()
  if (eventIds.length === 0) return found
  const { rows } = await db.query<{
    event_id: string
    name: string | null
    url: string | null
    time_ms: number | null
    group_id: number | null
    venue_id: number | null
  }>('SELECT event_id, name, url, time_ms, group_id, venue_id FROM events WHERE event_id = ANY($1::text[])', [eventIds])
  for (const row of rows) {
    found.set(row.event_id, {
      event_id: row.event_id,
      name: row.name,
      url: row.url,
      time: isoTime(row.time_ms),
      group_id: row.group_id,
      venue_id: row.venue_id,
    })
  }
  return found
}

/** Groups by id; unknown ids are absent. */
export async function readGroups(db: Queryable, groupIds: readonly number[]): Promise<Map<number, GroupView>> {
  const found = new Map<number, GroupView>()
  if (groupIds.length === 0) return found
  const { rows } = await db.query<{
    group_id: number
    name: string | null
    urlname: string | null
    city: string | null
    country: string | null
    topics: Array<{ urlkey: string; name: string }> | null
  }>('SELECT group_id, name, urlname, city, country, topics FROM groups WHERE group_id = ANY($1::bigint[])', [groupIds])
  for (const row of rows) {
    found.set(row.group_id, {
      id: row.group_id,
      name: row.name,
      urlname: row.urlname,
      city: row.city,
      country: row.country,
      topics: row.topics ?? [],
    })
  }
  return found
}

/** Venues by id; unknown ids are absent. */
export async function readVenues(db: Queryable, venueIds: readonly number[]): Promise<Map<number, VenueView>> {
  const found = new Map<number, VenueView>()
  if (venueIds.length === 0) return found
  const { rows } = await db.query<{ venue_id: number; name: string | null; lat: number | null; lon: number | null }>(
    'SELECT venue_id, name, lat, lon FROM venues WHERE venue_id = ANY($1::bigint[])',
    [venueIds],
  )
  for (const row of rows) found.set(row.venue_id, { id: row.venue_id, name: row.name, lat: row.lat, lon: row.lon })
  return found
}

/** An event's current yes count and attendees, or undefined when no valid message named it. */
export async function readEventCounts(db: Queryable, eventId: string): Promise<EventCounts | undefined> {
  const result = await db.query<{ yes_rsvps: number; attendees: number }>(
    'SELECT yes_rsvps, attendees FROM events WHERE event_id = $1',
    [eventId],
  )
  const row = result.rows[0]
  return row && { yes: row.yes_rsvps, attendees: row.attendees }
}
