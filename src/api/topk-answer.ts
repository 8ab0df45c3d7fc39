/**
 * A top-k answer as the API sends it: the ranking from PostgreSQL's maintained counts, with each
 * event's details from the details source (the Redis ring in front of PostgreSQL), serialised
 * once. Shared by the top-k route (which may reuse an answer for TOPK_CACHE_MS) and the live
 * stream (which computes one per change and shares it among its subscribers).
 */
import type { EventDetailsSource } from '../cache/event-details-cache.ts'
import type { Queryable } from '../store/postgres.ts'
import { readTopk, type TopkCondition, type TopkScope } from '../store/topk-queries.ts'
import { TOPK_FILTERS } from './topk-filters.ts'
import { type TopkQuery, windowOf } from './topk-query.ts'

export interface TopkAnswerDeps {
  readonly db: Queryable
  readonly details: EventDetailsSource
  /** the clock `last` windows end at and `upcoming` compares with (epoch ms); tests pin it */
  readonly now: () => number
}

/**
 * Returns a function that computes the JSON body (the TopkReply schema, as a string) of `query`.
 * It rejects when PostgreSQL does (the routes answer 503 then); a Redis failure is only a miss.
 */
export function createTopkAnswerer(deps: TopkAnswerDeps): (query: TopkQuery) => Promise<string> {
  return async (query) => {
    const at = deps.now()
    const ranked = await readTopk(deps.db, query.k, scopeOf(query, at), conditionsOf(query, at))
    const details = await deps.details.getMany(ranked.map((event) => event.eventId))
    return JSON.stringify({
      k: query.k,
      events: ranked.map((event, index) => {
        const found = details.get(event.eventId)
        const group = found?.group
        return {
          rank: index + 1,
          event_id: event.eventId,
          yes_rsvps: event.yes,
          attendees: event.attendees,
          name: found?.name ?? null,
          url: found?.url ?? null,
          time: found?.time ?? null,
          group: group
            ? { id: group.id, name: group.name, urlname: group.urlname, city: group.city, country: group.country }
            : null,
          venue: found?.venue ?? null,
        }
      }),
    })
  }
}

/** Whether a query's answer can change with the clock alone (a sliding window, or `upcoming`). */
export function dependsOnClock(query: TopkQuery): boolean {
  return (
    query.lastMs !== undefined || TOPK_FILTERS.some((filter) => filter.clock === true && filter.name in query.filters)
  )
}

function scopeOf(query: TopkQuery, now: number): TopkScope {
  if (query.day !== undefined) return { kind: 'day', day: query.day }
  const window = windowOf(query, now)
  if (window !== undefined) return { kind: 'window', from: window.from, to: window.to }
  return { kind: 'all-time' }
}

function conditionsOf(query: TopkQuery, now: number): TopkCondition[] {
  const conditions: TopkCondition[] = []
  for (const filter of TOPK_FILTERS) {
    if (!(filter.name in query.filters)) continue
    const condition = filter.condition(query.filters[filter.name], { now })
    if (condition !== undefined) conditions.push(condition)
  }
  return conditions
}
