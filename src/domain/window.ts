/**
 * How a `[from, to)` window on RSVP mtimes (rule 4 of docs/contract.md) is added up from maintained counts:
 * whole UTC days from the per-day counts, whole UTC hours from the per-hour counts, and only the
 * partial hours at the two edges from the RSVPs themselves. A window of any length therefore
 * reads at most two hours of RSVPs, whatever the total number of RSVPs.
 */

const MS_PER_HOUR = 3_600_000
const MS_PER_DAY = 86_400_000

/** A half-open range of epoch-ms instants. */
export interface TimeRange {
  readonly from: number
  readonly to: number
}

export interface WindowPlan {
  /** whole UTC days, as day numbers since 1970-01-01 (half-open); empty when from >= to */
  readonly days: { readonly from: number; readonly to: number }
  /** hour-aligned ranges summed from the per-hour counts */
  readonly hours: readonly TimeRange[]
  /** ranges not aligned to hours, counted from the RSVPs (at most two hours in all) */
  readonly edges: readonly TimeRange[]
}

function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit
}

function ceilTo(ms: number, unit: number): number {
  return Math.ceil(ms / unit) * unit
}

/** Splits `[from, to)` (epoch ms, integers) into whole days, whole hours and raw edges. */
export function planWindow(from: number, to: number): WindowPlan {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new RangeError(`planWindow needs integer epoch ms, not ${from} and ${to}`)
  }
  const hours: TimeRange[] = []
  const edges: TimeRange[] = []
  const firstWholeDay = ceilTo(from, MS_PER_DAY)
  const endOfWholeDays = floorTo(to, MS_PER_DAY)
  let days = { from: 0, to: 0 }
  if (firstWholeDay < endOfWholeDays) {
    days = { from: firstWholeDay / MS_PER_DAY, to: endOfWholeDays / MS_PER_DAY }
    splitIntoHours(from, firstWholeDay, hours, edges)
    splitIntoHours(endOfWholeDays, to, hours, edges)
  } else {
    splitIntoHours(from, to, hours, edges)
  }
  return { days, hours, edges }
}

function splitIntoHours(from: number, to: number, hours: TimeRange[], edges: TimeRange[]): void {
  if (from >= to) return
  const firstWholeHour = ceilTo(from, MS_PER_HOUR)
  const endOfWholeHours = floorTo(to, MS_PER_HOUR)
  if (firstWholeHour < endOfWholeHours) {
    if (from < firstWholeHour) edges.push({ from, to: firstWholeHour })
    hours.push({ from: firstWholeHour, to: endOfWholeHours })
    if (endOfWholeHours < to) edges.push({ from: endOfWholeHours, to })
  } else {
    edges.push({ from, to })
  }
}
