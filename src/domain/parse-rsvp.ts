/**
 * Turns one raw Kafka message into an Rsvp, or into the reason it is invalid (rule 6 of
 * docs/contract.md). Only rsvp_id, mtime, response and event.event_id can make a message invalid; every
 * other part is best effort: a malformed optional part is dropped, never fatal.
 *
 * Whatever comes out must be storable as is: PostgreSQL text and jsonb reject NUL characters and
 * unpaired surrogates, and one message the store keeps failing on would block its partition.
 */
import { isUtf8 } from 'node:buffer'
import type { EventDetails, GroupDetails, GroupTopic, ParseResult, Rsvp, VenueDetails } from './rsvp.ts'

/** The longest event_id accepted; ids are primary keys and cache keys. */
export const MAX_EVENT_ID_LENGTH = 255
/** Free text is cut to this many UTF-16 units; upstream caps names at 80, so only junk is cut. */
export const MAX_TEXT_LENGTH = 1000
/** A guests value above this is unusable (counts as 0): it would only let junk swamp the counts. */
export const MAX_GUESTS = 1000
/** Topics kept per group; Meetup allows a few dozen, so more is junk that would bloat the row. */
export const MAX_TOPICS = 100
/** 9999-12-31T23:59:59.999Z: later mtimes have no `YYYY-MM-DD` day to be counted on. */
export const MAX_MTIME = 253_402_300_799_999

type JsonObject = { readonly [key: string]: unknown }

/**
 * Parses and validates one RSVP message (UTF-8 JSON, classic Meetup stream format); `null` is a
 * Kafka record without a value. Never throws: an unusable message yields `{ ok: false, reason }` with a short human-readable reason.
 */
export function parseRsvp(raw: Buffer | string | null): ParseResult {
  // A null value (a tombstone) and an empty one carry no RSVP at all.
  if (raw === null || raw.length === 0) return invalid('empty message')
  let text: string
  if (typeof raw === 'string') {
    text = raw
  } else {
    // Buffer#toString would silently turn bad bytes into U+FFFD and let a corrupt message pass.
    if (!isUtf8(raw)) return invalid('not valid UTF-8')
    text = raw.toString('utf8')
  }
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch {
    return invalid('not JSON')
  }
  if (!isObject(root)) return invalid('not a JSON object')

  const rsvpId = root.rsvp_id
  if (rsvpId === undefined) return invalid('rsvp_id is missing')
  if (!isSafeInteger(rsvpId) || rsvpId <= 0) return invalid('rsvp_id must be a positive integer')

  const mtime = root.mtime
  if (mtime === undefined) return invalid('mtime is missing')
  if (!isSafeInteger(mtime) || mtime < 0) return invalid('mtime must be a non-negative integer (epoch ms)')
  if (mtime > MAX_MTIME) return invalid('mtime must be before year 10000')

  const response = root.response
  if (response === undefined) return invalid('response is missing')
  if (typeof response !== 'string') return invalid('response must be a string')

  const event = root.event
  if (event === undefined) return invalid('event is missing')
  if (!isObject(event)) return invalid('event must be an object')
  const eventId = event.event_id
  if (eventId === undefined) return invalid('event.event_id is missing')
  if (typeof eventId !== 'string' || eventId.length === 0) return invalid('event.event_id must be a non-empty string')
  if (eventId.length > MAX_EVENT_ID_LENGTH) {
    return invalid(`event.event_id must be at most ${MAX_EVENT_ID_LENGTH} characters`)
  }
  // An id cannot be repaired like free text: two different broken ids would become the same one.
  if (eventId.includes('\u0000') || !eventId.isWellFormed()) {
    return invalid('event.event_id must not contain NUL or unpaired surrogates')
  }

  const guests = root.guests
  const eventDetails: EventDetails = {
    eventId,
    name: optionalText(event.event_name),
    url: optionalText(event.event_url),
    time: isSafeInteger(event.time) ? event.time + 0 : undefined,
  }
  const rsvp: Rsvp = {
    rsvpId,
    // + 0 turns a JSON -0 into 0, which is what the store would give back
    mtime: mtime + 0,
    response: cleanText(response),
    guests: isSafeInteger(guests) && guests >= 0 && guests <= MAX_GUESTS ? guests + 0 : 0,
    event: eventDetails,
    group: parseGroup(root.group),
    venue: parseVenue(root.venue),
    // `member` (who answered, with name and photo) is read past, whatever it holds: nothing uses it.
  }
  return { ok: true, rsvp }
}

function invalid(reason: string): ParseResult {
  return { ok: false, reason }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isSafeInteger(value: unknown): value is number {
  return Number.isSafeInteger(value)
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0
}

function finiteNumber(value: unknown): number | undefined {
  // JSON.parse turns 1e400 into Infinity, which no column or map can use.
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' ? cleanText(value) : undefined
}

/**
 * Keeps text as sent (no trimming) except what storage cannot hold: cut to MAX_TEXT_LENGTH
 * without splitting a surrogate pair; NUL and unpaired surrogates become U+FFFD.
 */
function cleanText(value: string): string {
  let text = value
  if (text.length > MAX_TEXT_LENGTH) {
    const last = text.charCodeAt(MAX_TEXT_LENGTH - 1)
    const next = text.charCodeAt(MAX_TEXT_LENGTH)
    // Back off one unit only from a real pair; a lone high surrogate there becomes U+FFFD below.
    const splitsPair = last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff
    text = text.slice(0, splitsPair ? MAX_TEXT_LENGTH - 1 : MAX_TEXT_LENGTH)
  }
  if (!text.isWellFormed()) text = text.toWellFormed()
  if (text.includes('\u0000')) text = text.replaceAll('\u0000', '\uFFFD')
  return text
}

function parseGroup(value: unknown): GroupDetails | undefined {
  if (!isObject(value)) return undefined
  const groupId = value.group_id
  if (!isId(groupId)) return undefined
  const country = value.group_country
  return {
    groupId,
    name: optionalText(value.group_name),
    urlname: optionalText(value.group_urlname),
    city: optionalText(value.group_city),
    country: typeof country === 'string' ? cleanText(country.toLowerCase()) : undefined,
    state: optionalText(value.group_state),
    // Group coordinates are the group's home city; upstream sends them as they are, zeros included.
    lat: finiteNumber(value.group_lat),
    lon: finiteNumber(value.group_lon),
    topics: parseTopics(value.group_topics),
  }
}

function parseTopics(value: unknown): GroupTopic[] {
  const topics: GroupTopic[] = []
  if (!Array.isArray(value)) return topics
  for (const item of value) {
    if (topics.length === MAX_TOPICS) break
    if (!isObject(item)) continue
    const rawKey = item.urlkey
    if (typeof rawKey !== 'string' || rawKey.length === 0) continue
    const urlkey = cleanText(rawKey)
    // Duplicate keys would make a per-topic upsert touch one row twice in one statement; arrays
    // are short (about 12), so a scan beats allocating a Set per message.
    if (topics.some((topic) => topic.urlkey === urlkey)) continue
    topics.push({ urlkey, name: optionalText(item.topic_name) ?? '' })
  }
  return topics
}

function parseVenue(value: unknown): VenueDetails | undefined {
  if (!isObject(value)) return undefined
  const venueId = value.venue_id
  if (!isId(venueId)) return undefined
  const lat = finiteNumber(value.lat)
  const lon = finiteNumber(value.lon)
  // A position is only usable whole: both parts in range, and not upstream's 0/0 for "unknown".
  const known =
    lat !== undefined &&
    lon !== undefined &&
    lat >= -90 &&
    lat <= 90 &&
    lon >= -180 &&
    lon <= 180 &&
    !(lat === 0 && lon === 0)
  return {
    venueId,
    name: optionalText(value.venue_name),
    lat: known ? lat : undefined,
    lon: known ? lon : undefined,
  }
}
