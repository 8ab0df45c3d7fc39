/**
 * Top k from the maintained counts (contract rules 3 and 4); never a scan of the RSVPs.
 * - all-time: the first k entries of `events_topk` (yes_rsvps DESC, event_id);
 * - a date: the first k entries of `event_day_counts_topk` for that day;
 * - a window: whole days and whole hours summed from the per-day and per-hour counts, and the
 *   RSVPs of at most two partial hours at the edges (see domain/window.ts).
 * Filters (declared in api/topk-filters.ts) join the event's group or look at the event itself.
 * Every value travels as a parameter; only fixed SQL fragments are put together here.
 */
import { planWindow } from '../domain/window.ts'
import type { Queryable } from './postgres.ts'

/**
 * One filter's SQL: a condition on the event's group (`g`) or on the event (`e`), written with
 * `param` for every value, so values always travel as parameters.
 */
export interface TopkCondition {
  readonly on: 'group' | 'event'
  readonly sql: (param: (value: unknown) => string) => string
}

export type TopkScope =
  | { readonly kind: 'all-time' }
  | { readonly kind: 'day'; readonly day: number }
  | { readonly kind: 'window'; readonly from: number; readonly to: number }

export interface RankedEvent {
  readonly eventId: string
  readonly yes: number
  readonly attendees: number
}

interface Fragments {
  joins: string[]
  conditions: string[]
  params: unknown[]
}

/** Adds the conditions' joins and SQL; `eventIdColumn` is where the ranked rows' event_id comes from. */
function addConditions(
  fragments: Fragments,
  conditions: readonly TopkCondition[],
  eventIdColumn: string,
  eventsJoined: boolean,
): void {
  const param = (value: unknown) => {
    fragments.params.push(value)
    return `$${fragments.params.length}`
  }
  if (conditions.length === 0) return
  if (!eventsJoined) fragments.joins.push(`JOIN events e ON e.event_id = ${eventIdColumn}`)
  if (conditions.some((condition) => condition.on === 'group')) {
    fragments.joins.push('JOIN groups g ON g.group_id = e.group_id')
  }
  for (const condition of conditions) fragments.conditions.push(condition.sql(param))
}

function rankedSql(select: string, fragments: Fragments, orderBy: string): string {
  return `${select}
${fragments.joins.join('\n')}
WHERE ${fragments.conditions.join(' AND ')}
ORDER BY ${orderBy}
LIMIT $1`
}

/** The SQL and parameters of one top-k query; exported so the plan can be checked with EXPLAIN. */
export function topkStatement(
  k: number,
  scope: TopkScope,
  conditions: readonly TopkCondition[] = [],
): { text: string; values: unknown[] } {
  const fragments: Fragments = { joins: [], conditions: [], params: [k] }
  if (scope.kind === 'all-time') {
    fragments.conditions.push('e.yes_rsvps > 0')
    addConditions(fragments, conditions, 'e.event_id', true)
    return {
      text: rankedSql(
        'SELECT e.event_id, e.yes_rsvps, e.attendees FROM events e',
        fragments,
        'e.yes_rsvps DESC, e.event_id',
      ),
      values: fragments.params,
    }
  }
  if (scope.kind === 'day') {
    fragments.params.push(scope.day)
    fragments.conditions.push("c.day = DATE '1970-01-01' + $2::int", 'c.yes_rsvps > 0')
    addConditions(fragments, conditions, 'c.event_id', false)
    return {
      text: rankedSql(
        'SELECT c.event_id, c.yes_rsvps, c.attendees FROM event_day_counts c',
        fragments,
        'c.yes_rsvps DESC, c.event_id',
      ),
      values: fragments.params,
    }
  }
  const plan = planWindow(scope.from, scope.to)
  fragments.params.push(
    plan.days.from,
    plan.days.to,
    plan.hours.map((range) => range.from),
    plan.hours.map((range) => range.to),
    plan.edges.map((range) => range.from),
    plan.edges.map((range) => range.to),
  )
  fragments.conditions.push('w.yes_rsvps > 0')
  addConditions(fragments, conditions, 'w.event_id', false)
  const windowCounts = `WITH counted AS (
  SELECT event_id, yes_rsvps, attendees FROM event_day_counts
  WHERE day >= DATE '1970-01-01' + $2::int AND day < DATE '1970-01-01' + $3::int
  UNION ALL
  SELECT h.event_id, h.yes_rsvps, h.attendees FROM event_hour_counts h
  JOIN unnest($4::bigint[], $5::bigint[]) AS r(lo, hi) ON h.hour_start >= r.lo AND h.hour_start < r.hi
  UNION ALL
  SELECT x.event_id, 1, 1 + x.guests FROM rsvps x
  JOIN unnest($6::bigint[], $7::bigint[]) AS r(lo, hi) ON x.mtime >= r.lo AND x.mtime < r.hi
  WHERE x.response = 'yes'
),
w AS (
  SELECT event_id, sum(yes_rsvps)::bigint AS yes_rsvps, sum(attendees)::bigint AS attendees
  FROM counted GROUP BY event_id
)
SELECT w.event_id, w.yes_rsvps, w.attendees FROM w`
  return {
    text: rankedSql(windowCounts, fragments, 'w.yes_rsvps DESC, w.event_id COLLATE "C"'),
    values: fragments.params,
  }
}

/** The first k events of a scope, ranked by the contract: yes count descending, then event_id in byte order. */
export async function readTopk(
  db: Queryable,
  k: number,
  scope: TopkScope,
  conditions: readonly TopkCondition[] = [],
): Promise<RankedEvent[]> {
  const statement = topkStatement(k, scope, conditions)
  const result = await db.query<{ event_id: string; yes_rsvps: number; attendees: number }>(
    statement.text,
    statement.values,
  )
  return result.rows.map((row) => ({ eventId: row.event_id, yes: row.yes_rsvps, attendees: row.attendees }))
}
