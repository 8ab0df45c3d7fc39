/**
 * The SQL of applying a batch, with each table's columns declared once (unnest.ts): the text, the
 * column lists and the parameters all come from these declarations, so they cannot drift apart.
 *
 * Rule 1 ("only a strictly newer mtime wins") is enforced here (`WHERE n.mtime > r.mtime`), and
 * rule 5 (details of the greatest (mtime, rsvp_id)) by the upserts' WHERE clauses.
 */
import type { CandidateVersion, DetailsAt, EventDetailsWithLinks } from '../domain/merge.ts'
import type { GroupDetails, VenueDetails } from '../domain/rsvp.ts'
import { type Column, column, columnNames, unnestPlaceholders } from './unnest.ts'

/** An RSVP's version as written to `rsvps`. */
export const VERSION_COLUMNS: readonly Column<CandidateVersion>[] = [
  column('rsvp_id', 'bigint', (v) => v.rsvpId),
  column('mtime', 'bigint', (v) => v.mtime),
  column('event_id', 'text', (v) => v.eventId),
  column('response', 'text', (v) => v.response),
  column('guests', 'int', (v) => v.guests),
]

const [NEW_VERSIONS] = unnestPlaceholders([VERSION_COLUMNS])

// New RSVPs; rows of RSVPs that exist are left alone here and handled under a lock below.
export const INSERT_NEW_RSVPS = `
INSERT INTO rsvps (${columnNames(VERSION_COLUMNS)})
SELECT * FROM ${NEW_VERSIONS}
ON CONFLICT (rsvp_id) DO NOTHING
RETURNING rsvp_id`

// The versions that may be replaced, locked until commit so no other transaction changes them
// between our read and our update. Ordered to keep concurrent batches from deadlocking.
export const LOCK_CURRENT_VERSIONS = `
SELECT rsvp_id, mtime, event_id, response, guests
FROM rsvps WHERE rsvp_id = ANY($1::bigint[])
ORDER BY rsvp_id
FOR UPDATE`

export const UPDATE_TO_NEWER_VERSIONS = `
UPDATE rsvps AS r
SET ${VERSION_COLUMNS.filter((c) => c.name !== 'rsvp_id')
  .map((c) => `${c.name} = n.${c.name}`)
  .join(', ')}
FROM ${NEW_VERSIONS} AS n(${columnNames(VERSION_COLUMNS)})
WHERE r.rsvp_id = n.rsvp_id AND n.mtime > r.mtime
RETURNING r.rsvp_id`

/** One row per event of a batch: its count delta (if any) and its newest details (if any). */
export interface EventRow {
  readonly eventId: string
  readonly yes: number
  readonly attendees: number
  readonly at: DetailsAt<EventDetailsWithLinks> | undefined
}

/** A count delta of one event in one UTC day or hour. */
export interface BucketRow {
  readonly bucket: string | number
  readonly eventId: string
  readonly yes: number
  readonly attendees: number
}

const EVENT_COLUMNS: readonly Column<EventRow>[] = [
  column('event_id', 'text', (r) => r.eventId),
  column('yes_rsvps', 'bigint', (r) => r.yes),
  column('attendees', 'bigint', (r) => r.attendees),
  column('details_mtime', 'bigint', (r) => r.at?.mtime ?? null),
  column('details_rsvp_id', 'bigint', (r) => r.at?.rsvpId ?? null),
  column('name', 'text', (r) => r.at?.details.name ?? null),
  column('url', 'text', (r) => r.at?.details.url ?? null),
  column('time_ms', 'bigint', (r) => r.at?.details.time ?? null),
  column('group_id', 'bigint', (r) => r.at?.details.groupId ?? null),
  column('venue_id', 'bigint', (r) => r.at?.details.venueId ?? null),
]

const DAY_COLUMNS: readonly Column<BucketRow>[] = [
  column('day', 'date', (r) => r.bucket),
  column('event_id', 'text', (r) => r.eventId),
  column('yes_rsvps', 'bigint', (r) => r.yes),
  column('attendees', 'bigint', (r) => r.attendees),
]

const HOUR_COLUMNS: readonly Column<BucketRow>[] = [
  column('hour_start', 'bigint', (r) => r.bucket),
  column('event_id', 'text', (r) => r.eventId),
  column('yes_rsvps', 'bigint', (r) => r.yes),
  column('attendees', 'bigint', (r) => r.attendees),
]

const GROUP_COLUMNS: readonly Column<DetailsAt<GroupDetails>>[] = [
  column('group_id', 'bigint', (g) => g.details.groupId),
  column('mtime', 'bigint', (g) => g.mtime),
  column('rsvp_id', 'bigint', (g) => g.rsvpId),
  column('name', 'text', (g) => g.details.name ?? null),
  column('urlname', 'text', (g) => g.details.urlname ?? null),
  column('city', 'text', (g) => g.details.city ?? null),
  column('country', 'text', (g) => g.details.country ?? null),
  column('state', 'text', (g) => g.details.state ?? null),
  column('lat', 'float8', (g) => g.details.lat ?? null),
  column('lon', 'float8', (g) => g.details.lon ?? null),
  column('topics', 'jsonb', (g) => JSON.stringify(g.details.topics)),
]

const VENUE_COLUMNS: readonly Column<DetailsAt<VenueDetails>>[] = [
  column('venue_id', 'bigint', (v) => v.details.venueId),
  column('mtime', 'bigint', (v) => v.mtime),
  column('rsvp_id', 'bigint', (v) => v.rsvpId),
  column('name', 'text', (v) => v.details.name ?? null),
  column('lat', 'float8', (v) => v.details.lat ?? null),
  column('lon', 'float8', (v) => v.details.lon ?? null),
]

/**
 * The sections of APPLY_COUNTS_AND_DETAILS's parameters, in order. Groups and venues come last:
 * they do not depend on the database, so ingest encodes them before the transaction.
 */
export const COUNTS_AND_DETAILS = {
  events: EVENT_COLUMNS,
  days: DAY_COLUMNS,
  hours: HOUR_COLUMNS,
  groups: GROUP_COLUMNS,
  venues: VENUE_COLUMNS,
} as const
const [EVENTS, DAYS, HOURS, GROUPS, VENUES] = unnestPlaceholders(Object.values(COUNTS_AND_DETAILS)) as [
  string,
  string,
  string,
  string,
  string,
]

/** `column = excluded.column` for each of the columns but the key. */
function takeAll(columns: readonly Column<never>[], key: string): string {
  return columns
    .filter((c) => c.name !== key)
    .map((c) => `${c.name} = excluded.${c.name}`)
    .join(', ')
}

/** Adds a batch's count deltas to a table of per-bucket counts, keyed by (bucket, event_id). */
function addBucketCounts(table: string, columns: readonly Column<BucketRow>[], rows: string): string {
  const bucket = columns[0]?.name
  return `
  INSERT INTO ${table} AS c (${columnNames(columns)})
  SELECT * FROM ${rows}
  ON CONFLICT (${bucket}, event_id) DO UPDATE SET
    yes_rsvps = c.yes_rsvps + excluded.yes_rsvps,
    attendees = c.attendees + excluded.attendees
`
}

// Rule 5: the proposed details replace the stored ones only when they come from a greater
// (mtime, rsvp_id). A delta-only row (an event that only loses a count) has NULL details: the
// test must be false for it, never NULL, because details_changed below is NOT NULL.
const EVENT_DETAILS_NEWER =
  '(excluded.details_mtime IS NOT NULL AND (e.details_mtime IS NULL OR ' +
  '(excluded.details_mtime, excluded.details_rsvp_id) > (e.details_mtime, e.details_rsvp_id)))'

const EVENT_DETAILS = ['name', 'url', 'time_ms', 'group_id', 'venue_id', 'details_mtime', 'details_rsvp_id']

// Counts, per-day and per-hour counts and every kind of details in one round trip; each CTE
// touches its own table. Event rows carry count deltas and details together (one row per
// event), details replaced only by a strictly newer message; a delta-only row has NULL details.
export const APPLY_COUNTS_AND_DETAILS = `
WITH
event_rows AS (
  INSERT INTO events AS e (${columnNames(EVENT_COLUMNS)})
  SELECT * FROM ${EVENTS}
  ON CONFLICT (event_id) DO UPDATE SET
    yes_rsvps = e.yes_rsvps + excluded.yes_rsvps,
    attendees = e.attendees + excluded.attendees,
    ${EVENT_DETAILS.map((c) => `${c} = CASE WHEN ${EVENT_DETAILS_NEWER} THEN excluded.${c} ELSE e.${c} END`).join(',\n    ')},
    -- What readers see changed (not only the message it came from): its cache entry must go.
    details_changed = ${EVENT_DETAILS_NEWER} AND (excluded.name, excluded.url, excluded.time_ms, excluded.group_id,
      excluded.venue_id) IS DISTINCT FROM (e.name, e.url, e.time_ms, e.group_id, e.venue_id)
  -- An update writes a new row version even when it keeps every value: skip the no-ops (events
  -- named only by resends and older messages).
  WHERE excluded.yes_rsvps <> 0 OR excluded.attendees <> 0 OR ${EVENT_DETAILS_NEWER}
  RETURNING event_id, details_changed
),
day_rows AS (${addBucketCounts('event_day_counts', DAY_COLUMNS, DAYS)}),
hour_rows AS (${addBucketCounts('event_hour_counts', HOUR_COLUMNS, HOURS)}),
group_rows AS (
  INSERT INTO groups AS g (${columnNames(GROUP_COLUMNS)})
  SELECT * FROM ${GROUPS}
  ON CONFLICT (group_id) DO UPDATE SET
    ${takeAll(GROUP_COLUMNS, 'group_id')},
    details_changed = (excluded.name, excluded.urlname, excluded.city, excluded.country, excluded.topics)
      IS DISTINCT FROM (g.name, g.urlname, g.city, g.country, g.topics)
  WHERE (excluded.mtime, excluded.rsvp_id) > (g.mtime, g.rsvp_id)
  RETURNING group_id, details_changed
),
venue_rows AS (
  INSERT INTO venues AS v (${columnNames(VENUE_COLUMNS)})
  SELECT * FROM ${VENUES}
  ON CONFLICT (venue_id) DO UPDATE SET
    ${takeAll(VENUE_COLUMNS, 'venue_id')},
    details_changed = (excluded.name, excluded.lat, excluded.lon) IS DISTINCT FROM (v.name, v.lat, v.lon)
  WHERE (excluded.mtime, excluded.rsvp_id) > (v.mtime, v.rsvp_id)
  RETURNING venue_id, details_changed
)
-- Data-modifying CTEs always run to completion, whether or not this SELECT reads them. New rows
-- come back with details_changed false: nothing can be cached for them yet.
SELECT 'event' AS kind, event_id AS id FROM event_rows WHERE details_changed
UNION ALL SELECT 'group', group_id::text FROM group_rows WHERE details_changed
UNION ALL SELECT 'venue', venue_id::text FROM venue_rows WHERE details_changed`
