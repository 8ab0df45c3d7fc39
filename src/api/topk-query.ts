/**
 * The top-k query string, checked parameter by parameter. Pure: it turns whatever the network sent
 * (already decoded strictly: request-text.ts) into either a typed query or one error naming the
 * parameter at fault, with a message a user can act on. Fastify's schema validation is not used
 * for this because its messages name JSON paths, not the rules of this API.
 *
 * A window's cost grows with the days it spans (it adds up per-day counts), so its span is
 * capped: TOPK_MAX_WINDOW_DAYS, with a clear 400 beyond.
 */
import { type ParameterError, type RawQuery, shorten } from './request-text.ts'
import { TOPK_FILTERS } from './topk-filters.ts'

export type { ParameterError, RawQuery }

export interface TopkQuery {
  readonly k: number
  /** UTC day number since 1970-01-01 (rule 4 of docs/contract.md), when `date` was given */
  readonly day?: number
  /** `[from, to)` on the RSVPs' mtime, when `from` was given */
  readonly window?: { readonly from: number; readonly to: number }
  /**
   * A sliding window's length in ms, when `last` was given: `[now - lastMs, now)` where now is
   * when the answer is computed (so a live stream's window moves on; see windowOf).
   */
  readonly lastMs?: number
  /** each given filter's value, by name (see topk-filters.ts) */
  readonly filters: Readonly<Record<string, unknown>>
}

export type TopkQueryResult =
  | { readonly ok: true; readonly query: TopkQuery }
  | { readonly ok: false; readonly error: ParameterError }

export interface TopkQueryOptions {
  /** TOPK_MAX_K */
  readonly maxK: number
  /** the widest window, in ms (TOPK_MAX_WINDOW_DAYS) */
  readonly maxWindowMs: number
  /** the instant a window without `to` ends at (epoch ms) */
  readonly now: number
}

export const TOPK_PARAMETERS: readonly string[] = [
  'k',
  'date',
  'from',
  'to',
  'last',
  ...TOPK_FILTERS.map((f) => f.name),
]

export const DEFAULT_K = 10
const MS_PER_DAY = 86_400_000
/** 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the instants an RSVP's mtime can have (years 0000-9999). */
export const EARLIEST_INSTANT = -62_167_219_200_000
export const LATEST_INSTANT = 253_402_300_800_000

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DURATION = /^(\d{1,6})(m|h|d)$/
const MS_PER_UNIT: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: MS_PER_DAY }
const EPOCH_MS = /^-?\d{1,16}$/
// Date, optional time (minutes, optional seconds and fraction), optional zone; no zone means UTC.
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/

class QueryError extends Error {
  readonly parameter: string
  constructor(parameter: string, message: string) {
    super(message)
    this.parameter = parameter
  }
}

/** The first parameter of `raw` that is not in `known`, as the error to answer with (long names cut). */
export function unknownParameter(raw: RawQuery, known: readonly string[]): ParameterError | undefined {
  const name = Object.keys(raw).find((key) => !known.includes(key))
  if (name === undefined) return undefined
  const shown = shorten(name)
  const takes = known.length === 0 ? 'this route takes none' : `known parameters: ${known.join(', ')}`
  return { parameter: shown, message: `unknown parameter "${shown}"; ${takes}` }
}

/** Checks a top-k query string against the API's rules. */
export function parseTopkQuery(raw: RawQuery, options: TopkQueryOptions): TopkQueryResult {
  try {
    return { ok: true, query: readQuery(raw, options) }
  } catch (error) {
    if (error instanceof QueryError) return { ok: false, error: { parameter: error.parameter, message: error.message } }
    throw error
  }
}

function readQuery(raw: RawQuery, options: TopkQueryOptions): TopkQuery {
  const unknown = unknownParameter(raw, TOPK_PARAMETERS)
  if (unknown !== undefined) throw new QueryError(unknown.parameter, unknown.message)
  const value = (name: string): string | undefined => {
    const given = raw[name]
    if (given === undefined) return undefined
    if (typeof given !== 'string') throw new QueryError(name, `${name} must be given at most once`)
    return given
  }

  const kText = value('k')
  const k = kText === undefined ? DEFAULT_K : readK(kText, options.maxK)

  const dateText = value('date')
  const fromText = value('from')
  const toText = value('to')
  const lastText = value('last')
  let day: number | undefined
  let window: { from: number; to: number } | undefined
  let lastMs: number | undefined
  if (lastText !== undefined) {
    if (dateText !== undefined || fromText !== undefined || toText !== undefined) {
      throw new QueryError('last', 'last cannot be combined with date, from or to; use one of them')
    }
    lastMs = readDuration(lastText, options.maxWindowMs)
  } else if (dateText !== undefined) {
    if (fromText !== undefined || toText !== undefined) {
      throw new QueryError('date', 'date cannot be combined with from or to; use one or the other')
    }
    day = readDay(dateText)
  } else if (toText !== undefined && fromText === undefined) {
    throw new QueryError('from', 'a window needs from (to alone would reach back to year 0); to defaults to now')
  } else if (fromText !== undefined) {
    const from = readInstant('from', fromText)
    const to = toText === undefined ? Math.min(options.now, LATEST_INSTANT) : readInstant('to', toText)
    if (from >= to) {
      throw new QueryError('from', `from must be before ${toText === undefined ? 'now (to defaults to now)' : 'to'}`)
    }
    if (to - from > options.maxWindowMs) {
      const days = options.maxWindowMs / MS_PER_DAY
      throw new QueryError(
        'from',
        `a window spans at most ${days} days (TOPK_MAX_WINDOW_DAYS); this one spans ${Math.ceil((to - from) / MS_PER_DAY)}. For all of time, leave out from and to`,
      )
    }
    window = { from, to }
  }

  const filters: Record<string, unknown> = {}
  for (const filter of TOPK_FILTERS) {
    const text = value(filter.name)
    if (text === undefined) continue
    const parsed = filter.parse(text)
    if ('problem' in parsed) throw new QueryError(filter.name, parsed.problem)
    filters[filter.name] = parsed.value
  }

  return {
    k,
    ...(day !== undefined && { day }),
    ...(window !== undefined && { window }),
    ...(lastMs !== undefined && { lastMs }),
    filters,
  }
}

/**
 * The `[from, to)` window a query counts in at instant `now` (epoch ms): its fixed window, or its
 * sliding one (`last`) ending at `now`; undefined for all-time and date queries.
 */
export function windowOf(query: TopkQuery, now: number): { from: number; to: number } | undefined {
  if (query.lastMs !== undefined) return { from: now - query.lastMs, to: now }
  return query.window
}

/** `15m`, `1h`, `24h`, `7d`: a sliding window's length in ms, from one minute to the widest window. */
function readDuration(text: string, maxWindowMs: number): number {
  const match = DURATION.exec(text)
  const ms = match ? Number(match[1]) * (MS_PER_UNIT[match[2] as string] as number) : 0
  if (ms < 60_000 || ms > maxWindowMs) {
    throw new QueryError(
      'last',
      `last must be a length such as 15m, 1h, 24h or 7d (minutes, hours or days), from 1m to ${maxWindowMs / MS_PER_DAY}d (TOPK_MAX_WINDOW_DAYS)`,
    )
  }
  return ms
}

function readK(text: string, maxK: number): number {
  const k = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN
  if (!(k >= 1 && k <= maxK)) throw new QueryError('k', `k must be an integer from 1 to ${maxK}`)
  return k
}

/** `YYYY-MM-DD` that names a real calendar day, as a day number since 1970-01-01. */
function readDay(text: string): number {
  const match = DATE.exec(text)
  const ms = match ? calendarInstant(match) : undefined
  if (ms === undefined) throw new QueryError('date', 'date must be a calendar day as YYYY-MM-DD, such as 2021-03-01')
  return ms / MS_PER_DAY
}

/** The message for an instant parameter that parseInstant refused. */
export function instantProblem(name: string, text?: string): string {
  const problem = `${name} must be an ISO-8601 time (such as 2021-03-01T12:00:00Z) or epoch milliseconds, in years 0000-9999`
  // A '+' left unencoded in a query string reads as a space: 12:00+14:00 arrives as '12:00 14:00'.
  return text !== undefined && / \d{2}(:?\d{2})?$/.test(text)
    ? `${problem}; a '+' in a query string must be sent as %2B (for example 12:00%2B14:00)`
    : problem
}

/**
 * Epoch milliseconds, or ISO-8601 (a date, or a date and time; no zone means UTC), as epoch ms;
 * undefined when `text` is neither or falls outside years 0000-9999.
 */
export function parseInstant(text: string): number | undefined {
  let ms: number | undefined
  if (EPOCH_MS.test(text)) {
    ms = Number(text)
  } else {
    const match = ISO_INSTANT.exec(text)
    ms = match ? isoInstant(match) : undefined
  }
  if (ms === undefined || ms < EARLIEST_INSTANT || ms > LATEST_INSTANT) return undefined
  return ms
}

function readInstant(name: string, text: string): number {
  const ms = parseInstant(text)
  if (ms === undefined) throw new QueryError(name, instantProblem(name, text))
  return ms
}

function calendarInstant(match: RegExpExecArray): number | undefined {
  const year = Number(match[1])
  const month = Number(match[2])
  const dayOfMonth = Number(match[3])
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, dayOfMonth)
  // The Date rolls 2021-02-30 over to March: a real day reads back unchanged.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== dayOfMonth) {
    return undefined
  }
  return date.getTime()
}

function isoInstant(match: RegExpExecArray): number | undefined {
  const dayStart = calendarInstant(match)
  if (dayStart === undefined) return undefined
  const hours = Number(match[4] ?? 0)
  const minutes = Number(match[5] ?? 0)
  const seconds = Number(match[6] ?? 0)
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined
  // Milliseconds are the finest unit stored: finer digits are cut, never rounded up into the next ms.
  const millis = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3))
  let offsetMinutes = 0
  const zone = match[8]
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '')
    const zoneHours = Number(digits.slice(1, 3))
    const zoneMinutes = Number(digits.slice(3, 5))
    if (zoneHours > 23 || zoneMinutes > 59) return undefined
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes)
  }
  return dayStart + ((hours * 60 + minutes - offsetMinutes) * 60 + seconds) * 1000 + millis
}
