/**
 * Event details through the Redis ring, as three kinds of entries: an event's own details (with
 * its group's and venue's ids), groups and venues. A request looks its events up with one MGET
 * per node, then their groups and venues the same way; misses are read from PostgreSQL in one
 * query per kind and written back with the TTL. The ring is only ever a shortcut: a dead node or
 * a failing command is a miss, never an error.
 *
 * In front of the ring, an in-process tier (local-tier.ts) holds the entries this process read
 * lately, decoded: a hot answer then costs neither a round trip nor a JSON.parse per entry.
 *
 * Freshness: after ingest commits a batch, it drops the entries of every event, group and venue
 * whose details (as readers see them) the batch changed (invalidate), then notifies every process,
 * which forgets the same entries in its own tier (forgetLocal). A group renamed by a
 * message about one event is therefore renamed on every event of the group at once. A read that
 * raced that commit may put the older details back in the ring; the TTL bounds how long they can
 * be served.
 */
import type { Counter } from 'prom-client'
import type { EventDetailsView, EventOwnDetails, GroupView, VenueView } from '../store/event-details.ts'
import type { ChangedDetails } from '../store/rsvp-store.ts'
import type { LocalTier } from './local-tier.ts'
import type { CacheRing } from './ring.ts'

export interface EventDetailsSource {
  /** Details by event_id; events that do not exist are absent. */
  getMany(eventIds: readonly string[]): Promise<Map<string, EventDetailsView>>
  /** Drops the cached entries (in the ring and in this process) of what a batch changed in PostgreSQL. */
  invalidate(changed: ChangedDetails): Promise<void>
  /** Drops this process's own entries of what a batch changed, or all of them (a batch notice). */
  forgetLocal(changed: ChangedDetails | 'all'): void
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
  /** the in-process tier in front of the ring (default: none) */
  readonly local?: LocalTier
  /**
   * Keeps apart the entries of services that share a ring but not a database (the database's
   * name is a good one): the same event_id in two databases may have other details.
   */
  readonly namespace: string
  /** lookups by result: `local` (this process's tier), `hit` (the ring), `miss` (PostgreSQL) */
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
  const local = deps.local
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
    const epochAtRead = local?.epoch() ?? 0
    const remote: Id[] = []
    for (const id of ids) {
      const value = local?.get(kind.key(id))
      if (value !== undefined && kind.usable(value)) found.set(id, value)
      else remote.push(id)
    }
    if (found.size > 0) deps.lookups?.inc({ result: 'local' }, found.size)
    if (remote.length === 0) return found
    const cached = await deps.ring.getMany(remote.map(kind.key))
    const missing: Id[] = []
    for (const id of remote) {
      const key = kind.key(id)
      const text = cached.get(key)
      const value = decode(text)
      if (kind.usable(value)) {
        found.set(id, value)
        local?.set(key, value, text?.length ?? 0, epochAtRead)
      } else missing.push(id)
    }
    deps.lookups?.inc({ result: 'hit' }, remote.length - missing.length)
    if (missing.length === 0) return found
    deps.lookups?.inc({ result: 'miss' }, missing.length)
    const read = await kind.read(missing)
    const entries: Array<readonly [string, string]> = []
    for (const [id, value] of read) {
      found.set(id, value)
      const key = kind.key(id)
      const text = JSON.stringify(value)
      entries.push([key, text])
      local?.set(key, value, text.length, epochAtRead)
    }
    // Written back without waiting: the answer does not depend on it, and the ring logs its own failures.
    if (entries.length > 0) void deps.ring.setMany(entries, deps.ttlSeconds)
    return found
  }

  const keysOf = (changed: ChangedDetails): string[] => [
    ...changed.events.map(events.key),
    ...changed.groups.map(groups.key),
    ...changed.venues.map(venues.key),
  ]

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
      const keys = keysOf(changed)
      if (keys.length === 0) return
      local?.forget(keys)
      await deps.ring.deleteMany(keys)
    },
    forgetLocal(changed) {
      local?.forget(changed === 'all' ? 'all' : keysOf(changed))
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
