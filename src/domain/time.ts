/**
 * UTC calendar days of epoch-millisecond timestamps, as the per-day counts key them
 * (rule 4 of docs/contract.md).
 */

const MS_PER_DAY = 86_400_000
// Days from 1970-01-01 to 0000-03-01, the start of the civil calendar's 400-year cycle below.
const DAYS_TO_CYCLE_START = 719_468
const DAYS_PER_400_YEARS = 146_097
/** Day number of 0000-01-01 and of 9999-12-31: outside them a day has no four-digit year. */
const FIRST_DAY = -719_528
const LAST_DAY = 2_932_896

const TWO_DIGITS: readonly string[] = Array.from({ length: 32 }, (_, n) => String(n).padStart(2, '0'))

// Stream messages come in bursts from the same day, so remembering one day spares most
// calls the arithmetic and the string allocation.
let cachedDay = Number.NaN
let cachedText = ''

/**
 * The UTC calendar day of an epoch-millisecond instant, as `YYYY-MM-DD`.
 * Works for every instant from 0000-01-01 to 9999-12-31 (UTC) without allocating Date objects.
 * @throws RangeError when the instant is not a number or falls outside those years
 */
export function utcDay(epochMs: number): string {
  const day = Math.floor(epochMs / MS_PER_DAY)
  if (day === cachedDay) return cachedText
  if (!(day >= FIRST_DAY && day <= LAST_DAY)) {
    throw new RangeError(`utcDay: ${epochMs} is not an epoch-ms instant in years 0000-9999`)
  }
  const text = formatDay(day)
  cachedDay = day
  cachedText = text
  return text
}

// Howard Hinnant's days-to-civil algorithm (public domain): years start on March 1st so the leap
// day is the last day of its year, which keeps every step integer arithmetic.
function formatDay(day: number): string {
  const z = day + DAYS_TO_CYCLE_START
  const era = Math.floor(z / DAYS_PER_400_YEARS)
  const dayOfEra = z - era * DAYS_PER_400_YEARS
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153)
  const dayOfMonth = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  const yearText = year >= 1000 ? String(year) : String(year).padStart(4, '0')
  return `${yearText}-${TWO_DIGITS[month]}-${TWO_DIGITS[dayOfMonth]}`
}
