/** An event's per-hour counts over a range: what its history (domain/history.ts) is made of. */
import type { HourCounts } from '../domain/history.ts'
import type { Queryable } from './postgres.ts'

/** The hours in `[from, to)` (epoch ms) in which `eventId` has counts, in order; zero hours may be absent. */
export async function readEventHours(db: Queryable, eventId: string, from: number, to: number): Promise<HourCounts[]> {
  // event_hour_counts_by_event (migration 0006) serves this as one index range.
  const result = await db.query<{ hour_start: number; yes_rsvps: number; attendees: number }>(
    `SELECT hour_start, yes_rsvps, attendees FROM event_hour_counts
     WHERE event_id = $1 AND hour_start >= $2 AND hour_start < $3
     ORDER BY hour_start`,
    [eventId, from, to],
  )
  return result.rows.map((row) => ({ hourStart: row.hour_start, yes: row.yes_rsvps, attendees: row.attendees }))
}
