/**
 * Event details through the Redis ring: a request's events are looked up with one MGET per node,
 * the misses read from PostgreSQL in one query and written back with the TTL. The ring is only
 * ever a shortcut: a dead node or a failing command is a miss, never an error.
 *
 * Freshness: after ingest commits a batch that gave events newer details, it drops those events'
 * entries (invalidate). A read that raced that commit may put the older details back; the TTL
 * bounds how long they can be served, so the API never shows details older than what was
 * committed plus the TTL.
 */
import type { Counter } from 'prom-client'
import type { EventDetailsView } from '../store/event-details.ts'
import type { CacheRing } from './ring.ts'

export interface EventDetailsSource {
  /** Details by event_id; events that do not exist are absent. */
  getMany(eventIds: readonly string[]): Promise<Map<string, EventDetailsView>>
  /** Drops cached entries whose details changed in PostgreSQL. */
  invalidate(eventIds: readonly string[]): Promise<void>
}

export interface EventDetailsCacheDeps {
  readonly ring: CacheRing
  /** reads what the ring did not have, from the source of truth */
  readonly readFromDatabase: (eventIds: readonly string[]) => Promise<Map<string, EventDetailsView>>
  readonly ttlSeconds: number
  /**
   * Keeps apart the entries of services that share a ring but not a database (the database's
   * name is a good one): the same event_id in two databases may have other details.
   */
  readonly namespace: string
  readonly lookups?: Counter<'result'>
}

export function createEventDetailsCache(deps: EventDetailsCacheDeps): EventDetailsSource {
  const prefix = `rsvp-topk:${deps.namespace}:event:v1:`
  const eventKey = (eventId: string) => prefix + eventId
  return {
    async getMany(eventIds) {
      const details = new Map<string, EventDetailsView>()
      if (eventIds.length === 0) return details
      const cached = await deps.ring.getMany(eventIds.map(eventKey))
      const missing: string[] = []
      for (const eventId of eventIds) {
        const text = cached.get(eventKey(eventId))
        const view = text === undefined ? undefined : decode(text)
        if (view === undefined) missing.push(eventId)
        else details.set(eventId, view)
      }
      deps.lookups?.inc({ result: 'hit' }, eventIds.length - missing.length)
      if (missing.length === 0) return details
      deps.lookups?.inc({ result: 'miss' }, missing.length)

      const read = await deps.readFromDatabase(missing)
      const entries: Array<readonly [string, string]> = []
      for (const [eventId, view] of read) {
        details.set(eventId, view)
        entries.push([eventKey(eventId), JSON.stringify(view)])
      }
      // Written back without waiting: the answer does not depend on it, and the ring logs its own failures.
      if (entries.length > 0) void deps.ring.setMany(entries, deps.ttlSeconds)
      return details
    },
    async invalidate(eventIds) {
      if (eventIds.length > 0) await deps.ring.deleteMany(eventIds.map(eventKey))
    },
  }
}

/** An entry another version wrote, or one damaged on its way, is a miss: PostgreSQL answers instead. */
function decode(text: string): EventDetailsView | undefined {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && typeof (value as { event_id?: unknown }).event_id === 'string') {
      return value as EventDetailsView
    }
  } catch {}
  return undefined
}
