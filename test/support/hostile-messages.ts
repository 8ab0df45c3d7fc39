/**
 * Hostile messages: what a broken or malicious producer can put on the topic. Each is made from
 * a valid RSVP by one mutation — truncated JSON, a wrong type in any field, numbers beyond 2^53
 * and beyond BIGINT, megabyte strings, deep nesting, invalid UTF-8, NUL and lone surrogates in
 * every text field, very long text in 1-, 3- and 4-byte characters, `__proto__`/`constructor`
 * keys, empty and null values, and every bound of rule 6 on both sides.
 *
 * Some are valid (rule 6 only requires four fields) and must be counted; the rest must be
 * dead-lettered. Which is which is the oracle's call, not this file's. Every message gets an
 * rsvp_id of its own, so that no two versions of one RSVP share an mtime (rule 1 would then
 * depend on arrival order, which differs between partitions).
 */
import { createRandom, type Random } from '../../src/producer/random.ts'
import type { StreamMessage } from './ingest-harness.ts'
import { randomText, rsvpObject } from './rsvp-messages.ts'

type Json = Record<string, unknown>

/** Where a value may sit in a message, as a path of keys. */
const FIELDS: readonly (readonly string[])[] = [
  ['rsvp_id'],
  ['mtime'],
  ['response'],
  ['guests'],
  ['event'],
  ['event', 'event_id'],
  ['event', 'event_name'],
  ['event', 'event_url'],
  ['event', 'time'],
  ['group'],
  ['group', 'group_id'],
  ['group', 'group_name'],
  ['group', 'group_urlname'],
  ['group', 'group_city'],
  ['group', 'group_country'],
  ['group', 'group_state'],
  ['group', 'group_lat'],
  ['group', 'group_lon'],
  ['group', 'group_topics'],
  ['venue'],
  ['venue', 'venue_id'],
  ['venue', 'venue_name'],
  ['venue', 'lat'],
  ['venue', 'lon'],
  ['member'],
  ['member', 'member_id'],
  ['member', 'member_name'],
]

const TEXT_FIELDS: readonly (readonly string[])[] = [
  ['response'],
  ['event', 'event_id'],
  ['event', 'event_name'],
  ['event', 'event_url'],
  ['group', 'group_name'],
  ['group', 'group_urlname'],
  ['group', 'group_city'],
  ['group', 'group_country'],
  ['group', 'group_state'],
  ['venue', 'venue_name'],
  ['member', 'member_name'],
  ['member', 'photo'],
]

const NUMBER_FIELDS: readonly (readonly string[])[] = [
  ['rsvp_id'],
  ['mtime'],
  ['guests'],
  ['event', 'time'],
  ['group', 'group_id'],
  ['venue', 'venue_id'],
  ['member', 'member_id'],
]

const WRONG_TYPES: readonly unknown[] = [null, true, false, 'text', '', '123', 1.5, -1, 0, -0, [], {}, [1, 2], 1e308]

// Numbers JSON can carry and a double cannot: beyond 2^53, beyond BIGINT, and silly ones.
const HUGE_NUMBERS = [
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '18446744073709551616',
  '1e19',
  '123456789012345678901234567890',
  '1e400',
  '-1e400',
  '1.0000000000000002',
]

// Bytes no UTF-8 decoder accepts: a lone continuation, an overlong slash, a surrogate in
// CESU-8, a truncated 3-byte sequence, bytes above F4.
const BAD_UTF8: readonly number[][] = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe4, 0xb8], [0xff, 0xfe], [0xf5]]

const RAW = '\u0001raw\u0001'

function setPath(object: Json, path: readonly string[], value: unknown): void {
  let node = object
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
    node = node[key] as Json
  }
  node[path.at(-1) as string] = value
}

/** JSON text with `raw` written verbatim (unquoted) where the path is. */
function withRaw(object: Json, path: readonly string[], raw: string): string {
  setPath(object, path, RAW)
  return JSON.stringify(object).replace(JSON.stringify(RAW), raw)
}

type Mutation = (base: Json, random: Random) => string | Buffer | null

const mutations: readonly Mutation[] = [
  // Truncated JSON, cut anywhere.
  (base, r) => {
    const text = JSON.stringify(base)
    return text.slice(0, r.int(0, text.length - 1))
  },
  // A wrong type in any field.
  (base, r) => {
    setPath(base, r.pick(FIELDS), structuredClone(r.pick(WRONG_TYPES)))
    return JSON.stringify(base)
  },
  // A number beyond what a double holds exactly, or beyond BIGINT.
  (base, r) => withRaw(base, r.pick(NUMBER_FIELDS), r.pick(HUGE_NUMBERS)),
  // NUL, a lone high or low surrogate, as JSON escapes, in any text field.
  (base, r) => {
    const path = r.pick(TEXT_FIELDS)
    const sequence = r.pick(['\\u0000', '\\ud800', '\\udfff', '\\udc00\\ud800'])
    return withRaw(base, path, `"x${sequence}y${sequence}"`)
  },
  // A raw control character inside a string, which JSON forbids.
  (base, r) => withRaw(base, r.pick(TEXT_FIELDS), `"a${String.fromCharCode(r.int(0, 31))}b"`),
  // Long text in any text field, in 1-, 3- or 4-byte characters.
  (base, r) => {
    setPath(base, r.pick(TEXT_FIELDS), randomText(r.next, r.pick([999, 1000, 1001, 1500, 5000]), r.pick([1, 3, 4])))
    return JSON.stringify(base)
  },
  // Invalid UTF-8 bytes inside a string.
  (base, r) => {
    const path = r.pick(TEXT_FIELDS)
    const [before, after] = withRaw(base, path, `"${RAW}"`).split(RAW)
    return Buffer.concat([Buffer.from(before ?? ''), Buffer.from(r.pick(BAD_UTF8)), Buffer.from(after ?? '')])
  },
  // Keys that would reach an object's prototype if anything merged parsed objects.
  (base, r) => {
    const where = r.pick([[], ['event'], ['group'], ['venue']] as const)
    const key = r.pick(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'])
    const target = where.length === 0 ? base : (base[where[0] as string] as Json)
    const inner = r.chance(0.5) ? { rsvp_id: 1, event_id: 'polluted', isAdmin: true } : 'x'
    const drop = r.chance(0.3) ? (where.length === 0 ? 'rsvp_id' : where[0] === 'event' ? 'event_id' : '') : ''
    if (drop) delete target[drop]
    const text = JSON.stringify(base)
    // JSON.stringify skips a __proto__ own key, so the key goes in as text.
    const object = JSON.stringify(target)
    const injected = `{${JSON.stringify(key)}:${JSON.stringify(inner)},${object.slice(1)}`
    return where.length === 0 ? injected : text.replace(object, injected)
  },
  // Deep nesting, as an extra key (valid: extra keys are tolerated) or as a required one.
  (base, r) => {
    const depth = r.pick([100, 10_000, 200_000])
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`
    return withRaw(base, r.chance(0.5) ? ['deep'] : r.pick(FIELDS), deep)
  },
  // Empty and null values, and JSON that is not an RSVP.
  (_base, r) =>
    r.pick<string | null>([null, '', ' ', '\n', 'null', '{}', '[]', '""', '0', 'true', '{"rsvp_id":', '\ufeff{}']),
  // Every bound of rule 6, on both sides.
  (base, r) => {
    const bound = r.int(0, 9)
    if (bound === 0) base.rsvp_id = 0
    if (bound === 1) base.rsvp_id = Number.MAX_SAFE_INTEGER - r.int(0, 1000)
    if (bound === 2) base.mtime = 253_402_300_799_999
    if (bound === 3) base.mtime = 253_402_300_800_000
    if (bound === 4) base.mtime = -1
    if (bound === 5) setPath(base, ['event', 'event_id'], randomText(r.next, 255, r.pick([1, 3, 4])))
    if (bound === 6) setPath(base, ['event', 'event_id'], 'e'.repeat(256))
    if (bound === 7) base.guests = r.pick([1000, 1001, -1, 2 ** 31, 2 ** 53])
    if (bound === 8) setPath(base, ['event', 'event_id'], '')
    if (bound === 9) base.mtime = 0
    return JSON.stringify(base)
  },
]

/** A 1 MiB string in a text field, in characters of one width: the largest a message gets here. */
function megabyteString(base: Json, random: Random): string {
  const width = random.pick([1, 3, 4] as const)
  // UTF-16 units for 1 MiB of UTF-8: one per byte, one per 3 bytes, two per 4 bytes.
  const units = width === 1 ? 2 ** 20 : width === 3 ? Math.ceil(2 ** 20 / 3) : 2 ** 19
  setPath(base, random.pick(TEXT_FIELDS), randomText(random.next, units, width))
  return JSON.stringify(base)
}

export interface HostileOptions {
  readonly count: number
  readonly seed: number
  /** how many of them carry a 1 MiB string (the topic must take records of a few MiB) */
  readonly megabyteStrings?: number
  /** rsvp_ids from here up, clear of the valid stream's */
  readonly firstRsvpId?: number
  /** mtimes near this instant */
  readonly mtime?: number
}

/** `count` hostile messages, the same for the same options. */
export function hostileMessages(options: HostileOptions): StreamMessage[] {
  const random = createRandom(options.seed)
  const firstId = options.firstRsvpId ?? 8_000_000_000_000
  const mtime = options.mtime ?? Date.UTC(2026, 10, 1)
  const messages: StreamMessage[] = []
  for (let i = 0; i < options.count; i++) {
    const rsvpId = firstId + i
    const base = rsvpObject({
      rsvpId,
      eventId: `hostile-${random.int(0, 50)}`,
      mtime: mtime + random.int(0, 86_400_000),
      groupId: 900 + random.int(0, 20),
      venueId: 900 + random.int(0, 20),
      guests: random.int(0, 3),
    })
    const value =
      i < (options.megabyteStrings ?? 0)
        ? megabyteString(base, random)
        : (mutations[i % mutations.length] as Mutation)(base, random)
    messages.push({ key: String(rsvpId), value })
  }
  return messages
}
