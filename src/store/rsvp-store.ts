/**
 * Where RSVPs get counted: one batch of valid RSVPs becomes one PostgreSQL transaction that
 * writes the new current versions and moves the counts by exactly what changed.
 *
 * The rule "only a strictly newer mtime wins" is enforced by SQL (`WHERE n.mtime > r.mtime`), and
 * the count deltas come from the rows the statements report as changed, compared with the
 * versions they replaced, read under a row lock. So replays, redeliveries and two consumers
 * racing on the same RSVP during a rebalance all leave the counts exact.
 */
import {
  type BatchPlan,
  type CandidateVersion,
  countDeltas,
  type LatestDetails,
  planBatch,
  supersedes,
  type VersionChange,
} from '../domain/merge.ts'
import type { Rsvp, RsvpVersion } from '../domain/rsvp.ts'
import { type EncodedParam, encodeParam, type Postgres, type Queryable } from './postgres.ts'

/** Ids of the events, groups and venues whose details a batch changed. */
export interface ChangedDetails {
  readonly events: readonly string[]
  readonly groups: readonly number[]
  readonly venues: readonly number[]
}

export const NO_CHANGED_DETAILS: ChangedDetails = Object.freeze({ events: [], groups: [], venues: [] })

export interface ApplyResult {
  /** RSVP versions that became current (new RSVPs and strictly newer versions) */
  readonly applied: number
  /** messages that changed no RSVP: resends, equal or older mtimes, superseded within the batch */
  readonly unchanged: number
  /** the greatest mtime among the applied versions, or undefined when none applied */
  readonly newestAppliedMtime: number | undefined
  /** events, groups and venues whose details (as readers see them) changed: their cache entries are stale */
  readonly changedDetails: ChangedDetails
}

// New RSVPs; rows of RSVPs that exist are left alone here and handled under a lock below.
const INSERT_NEW_RSVPS = `
INSERT INTO rsvps (rsvp_id, mtime, event_id, response, guests, member_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::bigint[])
ON CONFLICT (rsvp_id) DO NOTHING
RETURNING rsvp_id`

// The versions that may be replaced, locked until commit so no other transaction changes them
// between our read and our update. Ordered to keep concurrent batches from deadlocking.
const LOCK_CURRENT_VERSIONS = `
SELECT rsvp_id, mtime, event_id, response, guests
FROM rsvps WHERE rsvp_id = ANY($1::bigint[])
ORDER BY rsvp_id
FOR UPDATE`

const UPDATE_TO_NEWER_VERSIONS = `
UPDATE rsvps AS r
SET mtime = n.mtime, event_id = n.event_id, response = n.response, guests = n.guests, member_id = n.member_id
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::bigint[])
  AS n(rsvp_id, mtime, event_id, response, guests, member_id)
WHERE r.rsvp_id = n.rsvp_id AND n.mtime > r.mtime
RETURNING r.rsvp_id`

// Rule 5: the proposed details replace the stored ones only when they come from a greater
// (mtime, rsvp_id). A delta-only row has NULL details, and a comparison with NULL is not true.
const EVENT_DETAILS_NEWER =
  '(e.details_mtime IS NULL OR (excluded.details_mtime, excluded.details_rsvp_id) > (e.details_mtime, e.details_rsvp_id))'

function takeIfNewer(columns: string[]): string {
  return columns
    .map((column) => `${column} = CASE WHEN ${EVENT_DETAILS_NEWER} THEN excluded.${column} ELSE e.${column} END`)
    .join(',\n    ')
}

// Counts, per-day and per-hour counts and every kind of details in one round trip; each CTE touches its own
// table. Event rows carry count deltas and details together (one row per event), details
// replaced only by a strictly newer message; a delta-only row has NULL details_mtime.
const APPLY_COUNTS_AND_DETAILS = `
WITH
event_rows AS (
  INSERT INTO events AS e (event_id, yes_rsvps, attendees, details_mtime, name, url, time_ms, group_id, venue_id,
                           details_rsvp_id)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[],
                       $8::bigint[], $9::bigint[], $10::bigint[])
  ON CONFLICT (event_id) DO UPDATE SET
    yes_rsvps = e.yes_rsvps + excluded.yes_rsvps,
    attendees = e.attendees + excluded.attendees,
    ${takeIfNewer(['name', 'url', 'time_ms', 'group_id', 'venue_id', 'details_mtime', 'details_rsvp_id'])},
    -- What readers see changed (not only the message it came from): its cache entry must go.
    details_changed = ${EVENT_DETAILS_NEWER} AND (excluded.name, excluded.url, excluded.time_ms, excluded.group_id,
      excluded.venue_id) IS DISTINCT FROM (e.name, e.url, e.time_ms, e.group_id, e.venue_id)
  -- An update writes a new row version even when it keeps every value: skip the no-ops (events
  -- named only by resends and older messages).
  WHERE excluded.yes_rsvps <> 0 OR excluded.attendees <> 0 OR ${EVENT_DETAILS_NEWER}
  RETURNING event_id, details_changed
),
day_rows AS (
  INSERT INTO event_day_counts AS d (day, event_id, yes_rsvps, attendees)
  SELECT * FROM unnest($11::date[], $12::text[], $13::bigint[], $14::bigint[])
  ON CONFLICT (day, event_id) DO UPDATE SET
    yes_rsvps = d.yes_rsvps + excluded.yes_rsvps,
    attendees = d.attendees + excluded.attendees
),
hour_rows AS (
  INSERT INTO event_hour_counts AS h (hour_start, event_id, yes_rsvps, attendees)
  SELECT * FROM unnest($15::bigint[], $16::text[], $17::bigint[], $18::bigint[])
  ON CONFLICT (hour_start, event_id) DO UPDATE SET
    yes_rsvps = h.yes_rsvps + excluded.yes_rsvps,
    attendees = h.attendees + excluded.attendees
),
group_rows AS (
  INSERT INTO groups AS g (group_id, mtime, name, urlname, city, country, state, lat, lon, topics, rsvp_id)
  SELECT * FROM unnest($19::bigint[], $20::bigint[], $21::text[], $22::text[], $23::text[], $24::text[],
                       $25::text[], $26::float8[], $27::float8[], $28::jsonb[], $29::bigint[])
  ON CONFLICT (group_id) DO UPDATE SET
    mtime = excluded.mtime, name = excluded.name, urlname = excluded.urlname, city = excluded.city,
    country = excluded.country, state = excluded.state, lat = excluded.lat, lon = excluded.lon,
    topics = excluded.topics, rsvp_id = excluded.rsvp_id,
    details_changed = (excluded.name, excluded.urlname, excluded.city, excluded.country, excluded.topics)
      IS DISTINCT FROM (g.name, g.urlname, g.city, g.country, g.topics)
  WHERE (excluded.mtime, excluded.rsvp_id) > (g.mtime, g.rsvp_id)
  RETURNING group_id, details_changed
),
venue_rows AS (
  INSERT INTO venues AS v (venue_id, mtime, name, lat, lon, rsvp_id)
  SELECT * FROM unnest($30::bigint[], $31::bigint[], $32::text[], $33::float8[], $34::float8[], $35::bigint[])
  ON CONFLICT (venue_id) DO UPDATE SET
    mtime = excluded.mtime, name = excluded.name, lat = excluded.lat, lon = excluded.lon, rsvp_id = excluded.rsvp_id,
    details_changed = (excluded.name, excluded.lat, excluded.lon) IS DISTINCT FROM (v.name, v.lat, v.lon)
  WHERE (excluded.mtime, excluded.rsvp_id) > (v.mtime, v.rsvp_id)
  RETURNING venue_id, details_changed
),
member_rows AS (
  INSERT INTO members AS m (member_id, mtime, name, photo, rsvp_id)
  SELECT * FROM unnest($36::bigint[], $37::bigint[], $38::text[], $39::text[], $40::bigint[])
  ON CONFLICT (member_id) DO UPDATE SET
    mtime = excluded.mtime, name = excluded.name, photo = excluded.photo, rsvp_id = excluded.rsvp_id
  WHERE (excluded.mtime, excluded.rsvp_id) > (m.mtime, m.rsvp_id)
)
-- Data-modifying CTEs always run to completion, whether or not this SELECT reads them. New rows
-- come back with details_changed false: nothing can be cached for them yet.
SELECT 'event' AS kind, event_id AS id FROM event_rows WHERE details_changed
UNION ALL SELECT 'group', group_id::text FROM group_rows WHERE details_changed
UNION ALL SELECT 'venue', venue_id::text FROM venue_rows WHERE details_changed`

function versionColumns(versions: readonly CandidateVersion[]): unknown[] {
  return [
    versions.map((v) => v.rsvpId),
    versions.map((v) => v.mtime),
    versions.map((v) => v.eventId),
    versions.map((v) => v.response),
    versions.map((v) => v.guests),
    versions.map((v) => v.memberId ?? null),
  ]
}

/**
 * A plan with the parameters that do not depend on the database already encoded: the versions
 * to insert and the group, venue and member details. Encoding is pure CPU work, so ingest does it
 * while the previous batch is in its transaction.
 */
export interface EncodedPlan {
  readonly plan: BatchPlan
  readonly versionParams: readonly EncodedParam[]
  readonly detailsParams: readonly EncodedParam[]
}

export function encodePlan(plan: BatchPlan): EncodedPlan {
  const { groups, venues, members } = plan.details
  return {
    plan,
    versionParams: versionColumns(plan.candidates).map(encodeParam),
    detailsParams: [
      groups.map((g) => g.details.groupId),
      groups.map((g) => g.mtime),
      groups.map((g) => g.details.name ?? null),
      groups.map((g) => g.details.urlname ?? null),
      groups.map((g) => g.details.city ?? null),
      groups.map((g) => g.details.country ?? null),
      groups.map((g) => g.details.state ?? null),
      groups.map((g) => g.details.lat ?? null),
      groups.map((g) => g.details.lon ?? null),
      groups.map((g) => JSON.stringify(g.details.topics)),
      groups.map((g) => g.rsvpId),
      venues.map((v) => v.details.venueId),
      venues.map((v) => v.mtime),
      venues.map((v) => v.details.name ?? null),
      venues.map((v) => v.details.lat ?? null),
      venues.map((v) => v.details.lon ?? null),
      venues.map((v) => v.rsvpId),
      members.map((m) => m.details.memberId),
      members.map((m) => m.mtime),
      members.map((m) => m.details.name ?? null),
      members.map((m) => m.details.photo ?? null),
      members.map((m) => m.rsvpId),
    ].map(encodeParam),
  }
}

/** Applies one batch of valid RSVPs (in arrival order) in one transaction. */
export function applyBatch(db: Postgres, rsvps: readonly Rsvp[]): Promise<ApplyResult> {
  return applyPlan(db, encodePlan(planBatch(rsvps)))
}

export interface ApplyHooks {
  /**
   * Called in the transaction once the RSVP versions are written: from then on it takes row
   * locks only on counts and details, so another batch's transaction may begin its own versions.
   */
  onVersionsWritten?(): void
}

/** Applies a planned batch in one transaction. */
export async function applyPlan(db: Postgres, encoded: EncodedPlan, hooks: ApplyHooks = {}): Promise<ApplyResult> {
  const { plan } = encoded
  if (plan.messages === 0) {
    return { applied: 0, unchanged: 0, newestAppliedMtime: undefined, changedDetails: NO_CHANGED_DETAILS }
  }
  return db.withTransaction(async (tx) => {
    const changes = await writeVersions(tx, plan.candidates, encoded.versionParams)
    hooks.onVersionsWritten?.()
    const changedDetails = await writeCountsAndDetails(tx, changes, plan.details, encoded.detailsParams)
    let newest: number | undefined
    for (const change of changes) if (newest === undefined || change.after.mtime > newest) newest = change.after.mtime
    return {
      applied: changes.length,
      unchanged: plan.messages - changes.length,
      newestAppliedMtime: newest,
      changedDetails,
    }
  })
}

async function writeVersions(
  tx: Queryable,
  candidates: readonly CandidateVersion[],
  candidateParams: readonly EncodedParam[],
): Promise<VersionChange[]> {
  const inserted = await tx.query<{ rsvp_id: number }>(INSERT_NEW_RSVPS, candidateParams)
  const insertedIds = new Set(inserted.rows.map((row) => row.rsvp_id))
  const changes: VersionChange[] = []
  const existing: CandidateVersion[] = []
  for (const candidate of candidates) {
    if (insertedIds.has(candidate.rsvpId)) changes.push({ before: undefined, after: candidate })
    else existing.push(candidate)
  }
  if (existing.length === 0) return changes

  const locked = await tx.query<{ rsvp_id: number; mtime: number; event_id: string; response: string; guests: number }>(
    LOCK_CURRENT_VERSIONS,
    [encodeParam(existing.map((r) => r.rsvpId))],
  )
  const current = new Map<number, RsvpVersion>()
  for (const row of locked.rows) {
    current.set(row.rsvp_id, {
      rsvpId: row.rsvp_id,
      mtime: row.mtime,
      eventId: row.event_id,
      response: row.response,
      guests: row.guests,
    })
  }
  const newer = existing.filter((candidate) => supersedes(candidate, current.get(candidate.rsvpId)))
  if (newer.length === 0) return changes

  const updated = await tx.query<{ rsvp_id: number }>(UPDATE_TO_NEWER_VERSIONS, versionColumns(newer).map(encodeParam))
  const updatedIds = new Set(updated.rows.map((row) => row.rsvp_id))
  for (const candidate of newer) {
    if (updatedIds.has(candidate.rsvpId)) {
      changes.push({ before: current.get(candidate.rsvpId), after: candidate })
    }
  }
  return changes
}

async function writeCountsAndDetails(
  tx: Queryable,
  changes: readonly VersionChange[],
  details: LatestDetails,
  detailsParams: readonly EncodedParam[],
): Promise<ChangedDetails> {
  const deltas = countDeltas(changes)
  // One row per event: its count delta (if any) and its newest details in this batch (if any).
  type EventRow = { yes: number; attendees: number; at: (typeof details.events)[number] | undefined }
  const events = new Map<string, EventRow>()
  for (const delta of deltas.events)
    events.set(delta.eventId, { yes: delta.yes, attendees: delta.attendees, at: undefined })
  for (const at of details.events) {
    const row = events.get(at.details.eventId)
    if (row) row.at = at
    else events.set(at.details.eventId, { yes: 0, attendees: 0, at })
  }
  const eventIds = [...events.keys()].sort()
  const eventRows = eventIds.map((id) => events.get(id) as EventRow)

  const result = await tx.query<{ kind: 'event' | 'group' | 'venue'; id: string }>(
    APPLY_COUNTS_AND_DETAILS,
    [
      eventIds,
      eventRows.map((r) => r.yes),
      eventRows.map((r) => r.attendees),
      eventRows.map((r) => r.at?.mtime ?? null),
      eventRows.map((r) => r.at?.details.name ?? null),
      eventRows.map((r) => r.at?.details.url ?? null),
      eventRows.map((r) => r.at?.details.time ?? null),
      eventRows.map((r) => r.at?.details.groupId ?? null),
      eventRows.map((r) => r.at?.details.venueId ?? null),
      eventRows.map((r) => r.at?.rsvpId ?? null),
      deltas.days.map((d) => d.day),
      deltas.days.map((d) => d.eventId),
      deltas.days.map((d) => d.yes),
      deltas.days.map((d) => d.attendees),
      deltas.hours.map((h) => h.hourStart),
      deltas.hours.map((h) => h.eventId),
      deltas.hours.map((h) => h.yes),
      deltas.hours.map((h) => h.attendees),
    ]
      .map(encodeParam)
      // $19 onwards: groups, venues and members, encoded before the transaction (encodePlan)
      .concat(detailsParams),
  )
  const changed = { events: [] as string[], groups: [] as number[], venues: [] as number[] }
  for (const row of result.rows) {
    if (row.kind === 'event') changed.events.push(row.id)
    else if (row.kind === 'group') changed.groups.push(Number(row.id))
    else changed.venues.push(Number(row.id))
  }
  return changed
}
