/**
 * An event's history as points: its yes RSVPs and attendees per UTC hour or day, from the
 * per-hour counts the store keeps (counted by the hour of each RSVP's current version, so an
 * RSVP that changes its answer moves between points like it moves the counts). Pure.
 */

export type HistoryStep = 'hour' | 'day'

export const MS_PER_STEP: Readonly<Record<HistoryStep, number>> = { hour: 3_600_000, day: 86_400_000 }

/** One hour's counts of one event; `hourStart` is epoch ms, a multiple of an hour. */
export interface HourCounts {
  readonly hourStart: number
  readonly yes: number
  readonly attendees: number
}

export interface HistoryPoint {
  /** the step's start, epoch ms (UTC) */
  readonly start: number
  readonly yes: number
  readonly attendees: number
}

/** `ms` rounded down to the start of its step (UTC). */
export function stepStart(ms: number, step: HistoryStep): number {
  return Math.floor(ms / MS_PER_STEP[step]) * MS_PER_STEP[step]
}

/**
 * One point per step in `[from, to)` (both multiples of the step), zeros where no counts were
 * kept, each the sum of the hours in it; hours outside the range are ignored.
 */
export function historyPoints(
  hours: readonly HourCounts[],
  from: number,
  to: number,
  step: HistoryStep,
): HistoryPoint[] {
  const size = MS_PER_STEP[step]
  const count = Math.max(0, Math.ceil((to - from) / size))
  const yes = new Array<number>(count).fill(0)
  const attendees = new Array<number>(count).fill(0)
  for (const hour of hours) {
    if (hour.hourStart < from || hour.hourStart >= to) continue
    const index = Math.floor((hour.hourStart - from) / size)
    yes[index] = (yes[index] as number) + hour.yes
    attendees[index] = (attendees[index] as number) + hour.attendees
  }
  return yes.map((y, index) => ({ start: from + index * size, yes: y, attendees: attendees[index] as number }))
}
