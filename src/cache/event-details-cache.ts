/**
 * Event details through the Redis ring, as three kinds of entries: an event's own details (with
 * its group's and venue's ids), groups and venues. A request looks its events up with one MGET
 * per node, then their groups and venues the same way; misses are read from PostgreSQL in one
 * query per kind and written back with the TTL. The ring is only ever a shortcut: a dead node or
 * a failing command is a miss, never an error.
 *
 * Freshness: after ingest commits a batch, it drops the entries of every event, group and venue
 * whose details (as readers see them) the batch changed (invalidate). A group renamed by a
 * message about one event is therefore renamed on every event of the group at once. A read that
 * raced that commit may put the older details back; the TTL bounds how long they can be served.
 */
import type { Counter } from 'prom-client'
import type { EventDetailsView, EventOwnDetails, GroupView, VenueView } from '../store/event-details.ts'
import type { ChangedDetails } from '../store/rsvp-store.ts'
import type { CacheRing } from './ring.ts'

export interface EventDetailsSource {
  /** Details by event_id; events that do not exist are absent. */
  getMany(eventIds: readonly string[]): Promise<Map<string, EventDetailsView>>
  /** Drops the cached entries of what a batch changed in PostgreSQL. */
  invalidate(changed: ChangedDetails): Promise<void>
}

/** Reads what the ring did not have, from the source of truth. */
export interface DetailsReaders {
  readonly events: (ids: readonly string[]) => Promise<Map<string, EventOwnDetails>>
  readonly groups: (ids: readonly number[]) => Promise<Map<number, GroupView>>
  readonly venues: (ids: readonly number[]) => Promise<Map<number, VenueView>>
}

export interface EventDetailsCacheDeps {
  readonly ring: CacheRing
  readonly read: DetailsReaders
  readonly ttlSeconds: number
  /**
   * Keeps apart the entries of services that share a ring but not a database (the database's
   * name is a good one): the same event_id in two databases may have other details.
   */
  readonly namespace: string
  readonly lookups?: Counter<'result'>
}

/** The prefix of every key this service writes for a data set: the ring clears exactly these. */
export function cacheKeyPrefix(namespace: string): string {
  return `rsvp-topk:${namespace}:`
}

interface Kind<Id extends string | number, V> {
  readonly key: (id: Id) => string
  readonly read: (ids: readonly Id[]) => Promise<Map<Id, V>>
  /** an entry another version wrote, or one damaged on its way, is a miss */
  readonly usable: (value: unknown) => value is V
}

export function createEventDetailsCache(deps: EventDetailsCacheDeps): EventDetailsSource {
  const prefix = cacheKeyPrefix(deps.namespace)
  const events: Kind<string, EventOwnDetails> = {
    key: (id) => `${prefix}event:v2:${id}`,
    read: deps.read.events,
    usable: (value): value is EventOwnDetails => typeof (value as { event_id?: unknown })?.event_id === 'string',
  }
  const groups: Kind<number, GroupView> = {
    key: (id) => `${prefix}group:v1:${id}`,
    read: deps.read.groups,
    usable: (value): value is GroupView => Array.isArray((value as { topics?: unknown })?.topics),
  }
  const venues: Kind<number, VenueView> = {
    key: (id) => `${prefix}venue:v1:${id}`,
    read: deps.read.venues,
    usable: (value): value is VenueView => typeof (value as { id?: unknown })?.id === 'number',
  }

  async function lookup<Id extends string | number, V>(kind: Kind<Id, V>, ids: readonly Id[]): Promise<Map<Id, V>> {
    const found = new Map<Id, V>()
    if (ids.length === 0) return found
    const cached = await deps.ring.getMany(ids.map(kind.key))
    const missing: Id[] = []
    for (const id of ids) {
      const value = decode(cached.get(kind.key(id)))
      if (kind.usable(value)) found.set(id, value)
      else missing.push(id)
    }
    deps.lookups?.inc({ result: 'hit' }, ids.length - missing.length)
    if (missing.length === 0) return found
    deps.lookups?.inc({ result: 'miss' }, missing.length)
    const read = await kind.read(missing)
    const entries: Array<readonly [string, string]> = []
    for (const [id, value] of read) {
      found.set(id, value)
      entries.push([kind.key(id), JSON.stringify(value)])
    }
    // Written back without waiting: the answer does not depend on it, and the ring logs its own failures.
    if (entries.length > 0) void deps.ring.setMany(entries, deps.ttlSeconds)
    return found
  }

  return {
    async getMany(eventIds) {
      const details = new Map<string, EventDetailsView>()
      const own = await lookup(events, [...new Set(eventIds)])
      const groupIds = new Set<number>()
      const venueIds = new Set<number>()
      for (const event of own.values()) {
        if (event.group_id !== null) groupIds.add(event.group_id)
        if (event.venue_id !== null) venueIds.add(event.venue_id)
      }
      const [groupViews, venueViews] = await Promise.all([lookup(groups, [...groupIds]), lookup(venues, [...venueIds])])
      for (const [eventId, event] of own) {
        details.set(eventId, {
          event_id: event.event_id,
          name: event.name,
          url: event.url,
          time: event.time,
          group: event.group_id === null ? null : (groupViews.get(event.group_id) ?? null),
          venue: event.venue_id === null ? null : (venueViews.get(event.venue_id) ?? null),
        })
      }
      return details
    },
    async invalidate(changed) {
      const keys = [
        ...changed.events.map(events.key),
        ...changed.groups.map(groups.key),
        ...changed.venues.map(venues.key),
      ]
      if (keys.length > 0) await deps.ring.deleteMany(keys)
    },
  }
}

function decode(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
