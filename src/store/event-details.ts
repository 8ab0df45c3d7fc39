/**
 * Event details as the API shows them: the event's own details joined with its group (and the
 * group's topics) and venue, each the newest by rule 5 (docs/contract.md). This is what the Redis ring caches, so it
 * holds no counts: those change with every RSVP and always come from PostgreSQL.
 */
import type { Queryable } from './postgres.ts'

export interface EventDetailsView {
  readonly event_id: string
  readonly name: string | null
  readonly url: string | null
  /** ISO-8601, or null when the stream gave no time */
  readonly time: string | null
  readonly group: {
    readonly id: number
    readonly name: string | null
    readonly urlname: string | null
    readonly city: string | null
    readonly country: string | null
    readonly topics: ReadonlyArray<{ readonly urlkey: string; readonly name: string }>
  } | null
  readonly venue: {
    readonly id: number
    readonly name: string | null
    readonly lat: number | null
    readonly lon: number | null
  } | null
}

export interface EventCounts {
  readonly yes: number
  readonly attendees: number
}

const READ_DETAILS = `
SELECT e.event_id, e.name, e.url, e.time_ms, e.group_id,
       g.group_id IS NOT NULL AS has_group, g.name AS group_name, g.urlname AS group_urlname,
       g.city AS group_city, g.country AS group_country, g.topics AS group_topics,
       e.venue_id, v.venue_id IS NOT NULL AS has_venue, v.name AS venue_name, v.lat AS venue_lat, v.lon AS venue_lon
FROM events e
LEFT JOIN groups g ON g.group_id = e.group_id
LEFT JOIN venues v ON v.venue_id = e.venue_id
WHERE e.event_id = ANY($1::text[])`

interface DetailsRow {
  event_id: string
  name: string | null
  url: string | null
  time_ms: number | null
  group_id: number | null
  has_group: boolean
  group_name: string | null
  group_urlname: string | null
  group_city: string | null
  group_country: string | null
  group_topics: Array<{ urlkey: string; name: string }> | null
  venue_id: number | null
  has_venue: boolean
  venue_name: string | null
  venue_lat: number | null
  venue_lon: number | null
  [column: string]: unknown
}

/** A JavaScript Date covers ±8.64e15 ms; a time outside it has no ISO form. */
function isoTime(ms: number | null): string | null {
  if (ms === null || !(Math.abs(ms) <= 8.64e15)) return null
  return new Date(ms).toISOString()
}

function toView(row: DetailsRow): EventDetailsView {
  return {
    event_id: row.event_id,
    name: row.name,
    url: row.url,
    time: isoTime(row.time_ms),
    group:
      row.group_id !== null && row.has_group
        ? {
            id: row.group_id,
            name: row.group_name,
            urlname: row.group_urlname,
            city: row.group_city,
            country: row.group_country,
            topics: row.group_topics ?? [],
          }
        : null,
    venue:
      row.venue_id !== null && row.has_venue
        ? { id: row.venue_id, name: row.venue_name, lat: row.venue_lat, lon: row.venue_lon }
        : null,
  }
}

/** Details of the events that exist, by event_id; unknown ids are simply absent. */
export async function readEventDetails(
  db: Queryable,
  eventIds: readonly string[],
): Promise<Map<string, EventDetailsView>> {
  const found = new Map<string, EventDetailsView>()
  if (eventIds.length === 0) return found
  const result = await db.query<DetailsRow>(READ_DETAILS, [eventIds])
  for (const row of result.rows) found.set(row.event_id, toView(row))
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
