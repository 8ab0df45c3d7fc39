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
import {
  APPLY_COUNTS_AND_DETAILS,
  COUNTS_AND_DETAILS,
  type EventRow,
  INSERT_NEW_RSVPS,
  LOCK_CURRENT_VERSIONS,
  UPDATE_TO_NEWER_VERSIONS,
  VERSION_COLUMNS,
} from './batch-statements.ts'
import { encodeBinaryArray } from './binary-array.ts'
import type { Postgres, Queryable } from './postgres.ts'
import { encodeColumns } from './unnest.ts'

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

/**
 * A plan with the parameters that do not depend on the database already encoded: the versions
 * to insert and the group and venue details. Encoding is pure CPU work, so ingest does it
 * while the previous batch is in its transaction.
 */
export interface EncodedPlan {
  readonly plan: BatchPlan
  readonly versionParams: readonly Buffer[]
  readonly detailsParams: readonly Buffer[]
}

export function encodePlan(plan: BatchPlan): EncodedPlan {
  return {
    plan,
    versionParams: encodeColumns(VERSION_COLUMNS, plan.candidates),
    detailsParams: [
      ...encodeColumns(COUNTS_AND_DETAILS.groups, plan.details.groups),
      ...encodeColumns(COUNTS_AND_DETAILS.venues, plan.details.venues),
    ],
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
  candidateParams: readonly Buffer[],
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
    [
      encodeBinaryArray(
        'bigint',
        existing.map((r) => r.rsvpId),
      ),
    ],
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

  const updated = await tx.query<{ rsvp_id: number }>(UPDATE_TO_NEWER_VERSIONS, encodeColumns(VERSION_COLUMNS, newer))
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
  detailsParams: readonly Buffer[],
): Promise<ChangedDetails> {
  const deltas = countDeltas(changes)
  // One row per event: its count delta (if any) and its newest details in this batch (if any).
  const events = new Map<string, { eventId: string; yes: number; attendees: number; at: EventRow['at'] }>()
  for (const delta of deltas.events) events.set(delta.eventId, { ...delta, at: undefined })
  for (const at of details.events) {
    const row = events.get(at.details.eventId)
    if (row) row.at = at
    else events.set(at.details.eventId, { eventId: at.details.eventId, yes: 0, attendees: 0, at })
  }
  const eventRows: EventRow[] = [...events.keys()].sort().map((id) => events.get(id) as EventRow)
  const sections = COUNTS_AND_DETAILS
  const result = await tx.query<{ kind: 'event' | 'group' | 'venue'; id: string }>(APPLY_COUNTS_AND_DETAILS, [
    ...encodeColumns(sections.events, eventRows),
    ...encodeColumns(
      sections.days,
      deltas.days.map((d) => ({ ...d, bucket: d.day })),
    ),
    ...encodeColumns(
      sections.hours,
      deltas.hours.map((h) => ({ ...h, bucket: h.hourStart })),
    ),
    // groups and venues, the last sections, encoded before the transaction (encodePlan)
    ...detailsParams,
  ])
  const changed = { events: [] as string[], groups: [] as number[], venues: [] as number[] }
  for (const row of result.rows) {
    if (row.kind === 'event') changed.events.push(row.id)
    else if (row.kind === 'group') changed.groups.push(Number(row.id))
    else changed.venues.push(Number(row.id))
  }
  return changed
}
