/**
 * The counting contract of `docs/contract.md`, implemented a second time, as plainly as
 * possible, for tests to compare the real service against. It shares no code with `src/domain`
 * on purpose: a bug there must not be copied here. Speed is not a goal; being obviously right is.
 *
 * Rule 6 as docs/contract.md states it, read literally:
 * - rsvp_id an integer from 1 to 2^53-1 (a JSON number beyond 2^53 has already lost digits, so it
 *   cannot identify anything); mtime an integer from 0 to 253402300799999 (year 9999); response
 *   any string; event.event_id a non-empty string of at most 255 UTF-16 units without NUL or
 *   unpaired surrogates. A value that is not UTF-8, empty or null is invalid. Everything else is
 *   optional.
 * - guests counts when it is an integer from 0 to 1000; anything else counts as 0.
 * - Free text is kept in the closest form storage can hold: NUL and unpaired surrogates become
 *   U+FFFD, and text over 1,000 UTF-16 units is cut there (never inside a surrogate pair).
 *
 * Decisions where the contract leaves room (the service must agree, or the tests say so):
 * - Only the exact response "yes" counts.
 * - The count maps keep no zeros: an event is in `yes`/`attendees` only while at least one RSVP
 *   counts for it, and a day is in `yesByDay` only while some RSVP counts on it.
 * - Details (rule 5) come from valid messages only, whether or not the message changed its RSVP
 *   (a stale version still names its event). On an equal mtime the greater rsvp_id wins; only one
 *   RSVP sent twice at one mtime with other details is left to arrival order (listed in
 *   `ambiguous`). Details are taken whole from one message: if the newest message lacks
 *   event.time, the event's time is undefined.
 * - Coordinates of 0 are "unknown" upstream and come out as undefined, like missing ones.
 * - A group or venue without a positive integer id is ignored (the message is still valid).
 */
import { Buffer } from 'node:buffer'
import { isDeepStrictEqual } from 'node:util'

/** What counting needs of an RSVP's current version. */
export interface ExpectedVersion {
  mtime: number
  eventId: string
  response: string
  guests: number
}

export interface ExpectedEvent {
  /** mtime of the message the details come from */
  mtime: number
  name: string | undefined
  url: string | undefined
  time: number | undefined
  groupId: number | undefined
  venueId: number | undefined
}

export interface ExpectedTopic {
  urlkey: string
  name: string
}

export interface ExpectedGroup {
  mtime: number
  name: string | undefined
  urlname: string | undefined
  city: string | undefined
  country: string | undefined
  state: string | undefined
  lat: number | undefined
  lon: number | undefined
  topics: ExpectedTopic[]
}

export interface ExpectedVenue {
  mtime: number
  name: string | undefined
  lat: number | undefined
  lon: number | undefined
}

/** The state the contract demands after a stream, as plain maps. */
export interface Expected {
  /** event_id -> number of RSVPs whose current version names it and says yes (no zeros kept) */
  yes: Map<string, number>
  /** event_id -> sum of 1 + guests over the same RSVPs (same keys as `yes`) */
  attendees: Map<string, number>
  /** 'YYYY-MM-DD' (UTC day of the current version's mtime) -> event_id -> yes count */
  yesByDay: Map<string, Map<string, number>>
  /** 'YYYY-MM-DD' -> event_id -> attendees */
  attendeesByDay: Map<string, Map<string, number>>
  events: Map<string, ExpectedEvent>
  groups: Map<number, ExpectedGroup>
  venues: Map<number, ExpectedVenue>
  /** entities whose newest mtime came with two different sets of details */
  ambiguous: { events: Set<string>; groups: Set<number>; venues: Set<number> }
  /** messages that broke rule 6 */
  invalid: number
  /** every other message, including resends and stale versions that changed nothing */
  valid: number
  /** rsvp_id -> current version */
  current: Map<number, ExpectedVersion>
}

/** One row of a top-k answer. */
export interface ExpectedRank {
  eventId: string
  yes: number
  attendees: number
}

const MAX_MTIME = 253_402_300_799_999
const MAX_EVENT_ID_UNITS = 255
const MAX_GUESTS = 1000
const MAX_TEXT_UNITS = 1000

type JsonObject = Record<string, unknown>

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isPositiveId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** Free text in the closest form storage holds (see the top of this file). */
function storable(text: string): string {
  let kept = ''
  // for…of walks code points: a pair comes whole, an unpaired surrogate alone.
  for (const char of text) {
    const code = char.codePointAt(0) as number
    const stored = char === '\u0000' || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : char
    if (kept.length + stored.length > MAX_TEXT_UNITS) break
    kept += stored
  }
  return kept
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? storable(value) : undefined
}

function integerOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined
}

function hasNulOrLoneSurrogate(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0) as number
    if (code === 0 || (code >= 0xd800 && code <= 0xdfff)) return true
  }
  return false
}

function coordinate(value: unknown): number | undefined {
  const n = numberOrUndefined(value)
  return n === 0 ? undefined : n
}

/** The UTC day of an epoch-ms instant (year 0000 to 9999), as 'YYYY-MM-DD'. */
export function utcDay(mtime: number): string {
  return new Date(mtime).toISOString().slice(0, 10)
}

interface ValidMessage {
  rsvpId: number
  version: ExpectedVersion
  object: JsonObject
  event: JsonObject
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The parts rule 6 requires, or undefined when the message is invalid. */
function readValid(raw: string | Buffer | null): ValidMessage | undefined {
  if (raw === null || raw.length === 0) return undefined
  let line: string
  try {
    line = typeof raw === 'string' ? raw : strictUtf8.decode(raw)
  } catch {
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (!isObject(parsed)) return undefined
  const rsvpId = parsed.rsvp_id
  const mtime = parsed.mtime
  const response = parsed.response
  const event = parsed.event
  if (!isPositiveId(rsvpId)) return undefined
  if (typeof mtime !== 'number' || !Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_MTIME) return undefined
  if (typeof response !== 'string') return undefined
  if (!isObject(event)) return undefined
  const eventId = event.event_id
  if (typeof eventId !== 'string' || eventId === '' || eventId.length > MAX_EVENT_ID_UNITS) return undefined
  if (hasNulOrLoneSurrogate(eventId)) return undefined
  const guests = integerOrUndefined(parsed.guests)
  const usableGuests = guests !== undefined && guests >= 0 && guests <= MAX_GUESTS ? guests : 0
  return {
    rsvpId,
    version: { mtime, eventId, response: storable(response), guests: usableGuests },
    object: parsed,
    event,
  }
}

/** Rule 6: whether a message value is valid (it counts) rather than invalid (dead-lettered). */
export function isValidMessage(raw: string | Buffer | null): boolean {
  return readValid(raw) !== undefined
}

// rsvp_id of the message each kept details came from, for rule 5's tie-break
const sourceRsvp = new WeakMap<object, number>()

/**
 * Rule 5 for one entity: the greater mtime wins, and on an equal mtime the greater rsvp_id. Only
 * the same RSVP sent twice at one mtime with other details is left to arrival order: `ambiguous`.
 */
function keepNewest<K, V extends { mtime: number }>(
  map: Map<K, V>,
  key: K,
  candidate: V,
  rsvpId: number,
  ambiguous: Set<K>,
): void {
  const known = map.get(key)
  const knownRsvp = known === undefined ? undefined : sourceRsvp.get(known)
  if (
    known === undefined ||
    knownRsvp === undefined ||
    candidate.mtime > known.mtime ||
    (candidate.mtime === known.mtime && rsvpId > knownRsvp)
  ) {
    map.set(key, candidate)
    sourceRsvp.set(candidate, rsvpId)
    ambiguous.delete(key)
  } else if (candidate.mtime === known.mtime && rsvpId === knownRsvp && !isDeepStrictEqual(candidate, known)) {
    ambiguous.add(key)
  }
}

function addTo(map: Map<string, number>, key: string, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount)
}

function addToDay(map: Map<string, Map<string, number>>, day: string, key: string, amount: number): void {
  let inner = map.get(day)
  if (inner === undefined) {
    inner = new Map()
    map.set(day, inner)
  }
  addTo(inner, key, amount)
}

/**
 * Processes raw message values in send order, as the contract says a single careful consumer
 * would, and returns the resulting state. The counts are derived at the end from the current
 * versions alone, which is rule 2 read literally.
 */
export function computeExpected(values: Iterable<string | Buffer | null>): Expected {
  const expected: Expected = {
    yes: new Map(),
    attendees: new Map(),
    yesByDay: new Map(),
    attendeesByDay: new Map(),
    events: new Map(),
    groups: new Map(),
    venues: new Map(),
    ambiguous: { events: new Set(), groups: new Set(), venues: new Set() },
    invalid: 0,
    valid: 0,
    current: new Map(),
  }

  for (const line of values) {
    const message = readValid(line)
    if (message === undefined) {
      expected.invalid++
      continue
    }
    expected.valid++
    const { rsvpId, version, object, event } = message

    // rule 1: only a strictly newer mtime replaces the current version
    const known = expected.current.get(rsvpId)
    if (known === undefined || version.mtime > known.mtime) expected.current.set(rsvpId, version)

    // rule 5: details, per entity, from the message with the greatest mtime
    const group = isObject(object.group) ? object.group : undefined
    const venue = isObject(object.venue) ? object.venue : undefined
    const groupId = group !== undefined && isPositiveId(group.group_id) ? group.group_id : undefined
    const venueId = venue !== undefined && isPositiveId(venue.venue_id) ? venue.venue_id : undefined
    keepNewest(
      expected.events,
      version.eventId,
      {
        mtime: version.mtime,
        name: stringOrUndefined(event.event_name),
        url: stringOrUndefined(event.event_url),
        time: integerOrUndefined(event.time),
        groupId,
        venueId,
      },
      rsvpId,
      expected.ambiguous.events,
    )
    if (group !== undefined && groupId !== undefined) {
      const topics: ExpectedTopic[] = []
      if (Array.isArray(group.group_topics)) {
        for (const topic of group.group_topics) {
          if (isObject(topic) && typeof topic.urlkey === 'string' && typeof topic.topic_name === 'string') {
            topics.push({ urlkey: topic.urlkey, name: topic.topic_name })
          }
        }
      }
      keepNewest(
        expected.groups,
        groupId,
        {
          mtime: version.mtime,
          name: stringOrUndefined(group.group_name),
          urlname: stringOrUndefined(group.group_urlname),
          city: stringOrUndefined(group.group_city),
          country: stringOrUndefined(group.group_country),
          state: stringOrUndefined(group.group_state),
          lat: coordinate(group.group_lat),
          lon: coordinate(group.group_lon),
          topics,
        },
        rsvpId,
        expected.ambiguous.groups,
      )
    }
    if (venue !== undefined && venueId !== undefined) {
      keepNewest(
        expected.venues,
        venueId,
        {
          mtime: version.mtime,
          name: stringOrUndefined(venue.venue_name),
          lat: coordinate(venue.lat),
          lon: coordinate(venue.lon),
        },
        rsvpId,
        expected.ambiguous.venues,
      )
    }
  }

  // rules 2 and 4: count the current versions that say yes
  for (const version of expected.current.values()) {
    if (version.response !== 'yes') continue
    const day = utcDay(version.mtime)
    addTo(expected.yes, version.eventId, 1)
    addTo(expected.attendees, version.eventId, 1 + version.guests)
    addToDay(expected.yesByDay, day, version.eventId, 1)
    addToDay(expected.attendeesByDay, day, version.eventId, 1 + version.guests)
  }
  return expected
}

/**
 * Rules 3 and 4: events with at least one yes, by yes count descending, then event_id ascending
 * in UTF-8 byte order, first k. Byte order is compared on the encoded bytes, not with `<` (which
 * compares UTF-16 code units and disagrees for characters beyond the BMP); for the ASCII ids
 * real streams carry the two agree. `day` keeps RSVPs whose current mtime falls on that UTC day;
 * `[from, to)` keeps those with from <= mtime < to; given together, both apply.
 */
export function topK(
  expected: Pick<Expected, 'current'>,
  k: number,
  options: { day?: string; from?: number; to?: number } = {},
): ExpectedRank[] {
  if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be an integer >= 0, not ${k}`)
  const yes = new Map<string, number>()
  const attendees = new Map<string, number>()
  for (const version of expected.current.values()) {
    if (version.response !== 'yes') continue
    if (options.day !== undefined && utcDay(version.mtime) !== options.day) continue
    if (options.from !== undefined && version.mtime < options.from) continue
    if (options.to !== undefined && version.mtime >= options.to) continue
    addTo(yes, version.eventId, 1)
    addTo(attendees, version.eventId, 1 + version.guests)
  }
  const rows = [...yes].map(([eventId, count]) => ({
    eventId,
    bytes: Buffer.from(eventId, 'utf8'),
    yes: count,
    attendees: attendees.get(eventId) ?? 0,
  }))
  rows.sort((a, b) => b.yes - a.yes || Buffer.compare(a.bytes, b.bytes))
  return rows.slice(0, k).map(({ eventId, yes, attendees }) => ({ eventId, yes, attendees }))
}
