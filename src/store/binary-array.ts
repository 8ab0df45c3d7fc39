/**
 * One-dimensional arrays in PostgreSQL's binary format, for the batch statements' `unnest`
 * parameters. pg sends a Buffer parameter as binary (format code 1), and the server reads it with
 * the receive function of the type the statement casts the placeholder to (`$1::bigint[]`).
 *
 * Why not text: an array literal is built in JavaScript as one string per element, quoted and
 * joined, then parsed back element by element by PostgreSQL's array_in; the binary form is
 * written straight into one buffer and read by array_recv without parsing numbers. The text form
 * was about an eighth of the ingest process's CPU (BENCHMARKS "Binary array parameters").
 *
 * The layout is array_send's (src/backend/utils/adt/arrayfuncs.c, "Binary I/O" in the manual's
 * CREATE TYPE page): int32 number of dimensions, int32 flags (1 when an element is NULL), the
 * element type's OID, then per dimension its length and lower bound (1); then each element as an
 * int32 byte length (-1 for NULL) and its bytes in the element type's own send format:
 * int8send/int4send (big-endian two's complement), float8send (IEEE 754, big-endian), date_send
 * (int32 days since 2000-01-01), textsend (the bytes, UTF-8 here) and jsonb_send (version 1,
 * then the JSON text). array_recv refuses an element OID other than the cast's, so a column
 * declared with the wrong type fails loudly rather than being read as something else.
 */

/** The SQL element types the batch statements send, as spelled in their casts. */
export type ElementType = 'bigint' | 'int' | 'float8' | 'date' | 'text' | 'jsonb'

// pg_type OIDs (src/include/catalog/pg_type.dat): fixed since PostgreSQL 7.
const OID: Record<ElementType, number> = { bigint: 20, int: 23, float8: 701, date: 1082, text: 25, jsonb: 3802 }
const FIXED_SIZE: Partial<Record<ElementType, number>> = { bigint: 8, int: 4, float8: 8, date: 4 }

const HEADER_BYTES = 20
const EMPTY_HEADER_BYTES = 12
const NULL_LENGTH = -1
const TWO_TO_32 = 2 ** 32
const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1
const JSONB_VERSION = 1
const MS_PER_DAY = 86_400_000
// 2000-01-01, PostgreSQL's epoch for dates, in days since 1970-01-01
const POSTGRES_EPOCH_DAYS = 10_957
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/

/**
 * Encodes `values` (null and undefined are SQL NULL) as a binary `type[]` parameter.
 *
 * Accepted values: bigint — safe integers; int — integers in int32's range; float8 — numbers;
 * date — `YYYY-MM-DD` strings of real calendar days from year 1000; text and jsonb — strings (jsonb:
 * JSON text). Throws TypeError for any other value, naming the element, so a column declared with
 * the wrong type or fed the wrong field fails before anything is sent.
 */
export function encodeBinaryArray(type: ElementType, values: readonly unknown[]): Buffer {
  const fixed = FIXED_SIZE[type]
  const isJsonb = type === 'jsonb'
  // First pass: the exact size, so the buffer is allocated once and never copied.
  // An empty array has no dimensions (array_send writes ndim 0 and nothing after the OID).
  const dimensions = values.length === 0 ? 0 : 1
  let size = dimensions === 0 ? EMPTY_HEADER_BYTES : HEADER_BYTES
  let hasNull = 0
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    size += 4
    if (value === null || value === undefined) hasNull = 1
    else if (fixed !== undefined) size += fixed
    else if (typeof value === 'string') size += Buffer.byteLength(value, 'utf8') + (isJsonb ? 1 : 0)
    else throw refuse(type, value, i)
  }

  const buffer = Buffer.allocUnsafe(size)
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  view.setInt32(0, dimensions)
  view.setInt32(4, hasNull)
  view.setInt32(8, OID[type])
  let at = 12
  if (dimensions === 1) {
    view.setInt32(12, values.length)
    view.setInt32(16, 1)
    at = HEADER_BYTES
  }
  let days: Map<string, number> | undefined
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value === null || value === undefined) {
      view.setInt32(at, NULL_LENGTH)
      at += 4
      continue
    }
    if (type === 'text' || isJsonb) {
      const start = at + 4 + (isJsonb ? 1 : 0)
      if (isJsonb) buffer[at + 4] = JSONB_VERSION
      const written = buffer.write(value as string, start, 'utf8')
      view.setInt32(at, written + start - at - 4)
      at = start + written
      continue
    }
    view.setInt32(at, fixed as number)
    at += 4
    if (type === 'bigint') {
      if (!Number.isSafeInteger(value)) throw refuse(type, value, i)
      const high = Math.floor((value as number) / TWO_TO_32)
      view.setInt32(at, high)
      view.setUint32(at + 4, (value as number) - high * TWO_TO_32)
    } else if (type === 'int') {
      if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX) {
        throw refuse(type, value, i)
      }
      view.setInt32(at, value as number)
    } else if (type === 'float8') {
      if (typeof value !== 'number') throw refuse(type, value, i)
      view.setFloat64(at, value)
    } else {
      // A batch names a few days many times over: each is worked out once.
      days ??= new Map()
      let day = days.get(value as string)
      if (day === undefined) {
        day = postgresDay(value, i)
        days.set(value as string, day)
      }
      view.setInt32(at, day)
    }
    at += fixed as number
  }
  return buffer
}

/** Days since 2000-01-01 of a `YYYY-MM-DD` calendar day; TypeError for anything else. */
function postgresDay(value: unknown, index: number): number {
  const match = typeof value === 'string' ? ISO_DAY.exec(value) : null
  if (match === null) throw refuse('date', value, index)
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const ms = Date.UTC(year, month - 1, day)
  const date = new Date(ms)
  // Date.UTC rolls 2023-02-30 over into March and reads years below 100 as 19xx: both refused.
  if (year < 1000 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) throw refuse('date', value, index)
  return ms / MS_PER_DAY - POSTGRES_EPOCH_DAYS
}

function refuse(type: ElementType, value: unknown, index: number): TypeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value)
  return new TypeError(`element ${index} of a ${type}[] parameter cannot be ${typeof value} ${shown}`)
}
