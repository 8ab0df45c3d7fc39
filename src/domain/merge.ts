/**
 * The counting contract's rules (docs/contract.md) as pure functions over one batch of parsed RSVPs: which version
 * of an RSVP is current (rule 1), how replacing a version moves the counts (rules 2 and 4), and
 * which message's details win (rule 5). The store applies what these return; keeping the rules
 * here lets them be tested without a database.
 */
import type { EventDetails, GroupDetails, Rsvp, RsvpVersion, VenueDetails } from './rsvp.ts'
import { utcDay } from './time.ts'

/** One RSVP's current version before and after a batch; `before` is undefined for a new RSVP. */
export interface VersionChange {
  readonly before: RsvpVersion | undefined
  readonly after: RsvpVersion
}

/** What to add to an event's yes count and attendees (negative when RSVPs left it). */
export interface CountDelta {
  readonly eventId: string
  readonly yes: number
  readonly attendees: number
}

/** The same for one UTC day (`YYYY-MM-DD`) of an event. */
export interface DayCountDelta extends CountDelta {
  readonly day: string
}

/** The same for one UTC hour of an event; `hourStart` is epoch ms, a multiple of an hour. */
export interface HourCountDelta extends CountDelta {
  readonly hourStart: number
}

export interface CountDeltas {
  /** sorted by eventId */
  readonly events: CountDelta[]
  /** sorted by day, then eventId */
  readonly days: DayCountDelta[]
  /** sorted by hourStart, then eventId */
  readonly hours: HourCountDelta[]
}

/** Details, and the mtime and rsvp_id of the message that carried them. */
export interface DetailsAt<T> {
  readonly mtime: number
  readonly rsvpId: number
  readonly details: T
}

/**
 * Rule 5's order: a greater mtime wins, and on an equal mtime the greater rsvp_id, so two
 * messages of the same millisecond with different details give one answer whatever their order.
 */
export function newerDetails(
  candidate: { readonly mtime: number; readonly rsvpId: number },
  current: { readonly mtime: number; readonly rsvpId: number } | undefined,
): boolean {
  return (
    current === undefined ||
    candidate.mtime > current.mtime ||
    (candidate.mtime === current.mtime && candidate.rsvpId > current.rsvpId)
  )
}

export type EventDetailsWithLinks = EventDetails & { groupId: number | undefined; venueId: number | undefined }

export interface LatestDetails {
  /** sorted by eventId */
  readonly events: DetailsAt<EventDetailsWithLinks>[]
  /** sorted by groupId */
  readonly groups: DetailsAt<GroupDetails>[]
  /** sorted by venueId */
  readonly venues: DetailsAt<VenueDetails>[]
}

/**
 * Rule 1: whether `candidate` becomes the current version. Only a strictly greater mtime wins, so
 * resends, truncated-mtime resends and stale versions change nothing.
 */
export function supersedes(
  candidate: { readonly mtime: number },
  current: { readonly mtime: number } | undefined,
): boolean {
  return current === undefined || candidate.mtime > current.mtime
}

/** A batch's newest version of one RSVP, as the store writes it: what counting needs. */
export type CandidateVersion = RsvpVersion

export function toCandidate(rsvp: Rsvp): CandidateVersion {
  return {
    rsvpId: rsvp.rsvpId,
    mtime: rsvp.mtime,
    eventId: rsvp.event.eventId,
    response: rsvp.response,
    guests: rsvp.guests,
  }
}

/** What one batch asks of the store, worked out without it. */
export interface BatchPlan {
  /** how many RSVPs the batch had */
  readonly messages: number
  /**
   * For each rsvp_id, the version that would be current after applying the batch in order to no
   * prior state: a strictly greater mtime replaces, an equal one does not (rule 1). Sorted by
   * rsvpId ascending, the order in which the store locks rows.
   */
  readonly candidates: CandidateVersion[]
  /** rule 5's winners among the batch's messages */
  readonly details: LatestDetails
}

export interface BatchPlanner {
  /** Takes the batch's next RSVP, in arrival order. */
  add(rsvp: Rsvp): void
  finish(): BatchPlan
}

/**
 * Folds a batch into its plan one RSVP at a time. Only the current winners are held, so the
 * details of a message that a newer one beats are garbage at once: a batch holds tens of
 * thousands of messages, and what survives a garbage collection is what it costs.
 *
 * Rule 5: per eventId, groupId and venueId, the details of the batch's message with the
 * greatest mtime naming it (the greater rsvp_id on equal mtimes, see newerDetails). Every message
 * counts, including versions that lose rule 1: an RSVP's stale version still carries the newest
 * word on its group.
 */
export function createBatchPlanner(): BatchPlanner {
  let messages = 0
  const candidates = new Map<number, CandidateVersion>()
  const events = new Map<string, DetailsAt<EventDetailsWithLinks>>()
  const groups = new Map<number, DetailsAt<GroupDetails>>()
  const venues = new Map<number, DetailsAt<VenueDetails>>()
  return {
    add(rsvp) {
      messages++
      const { mtime, rsvpId } = rsvp
      if (supersedes(rsvp, candidates.get(rsvpId))) candidates.set(rsvpId, toCandidate(rsvp))
      const eventId = rsvp.event.eventId
      if (newerDetails(rsvp, events.get(eventId))) {
        const details = { ...rsvp.event, groupId: rsvp.group?.groupId, venueId: rsvp.venue?.venueId }
        events.set(eventId, { mtime, rsvpId, details })
      }
      const group = rsvp.group
      if (group !== undefined && newerDetails(rsvp, groups.get(group.groupId))) {
        groups.set(group.groupId, { mtime, rsvpId, details: group })
      }
      const venue = rsvp.venue
      if (venue !== undefined && newerDetails(rsvp, venues.get(venue.venueId))) {
        venues.set(venue.venueId, { mtime, rsvpId, details: venue })
      }
    },
    finish() {
      return {
        messages,
        candidates: byNumericKey(candidates),
        details: {
          events: Array.from(events.keys())
            .sort(compareText)
            .map((eventId) => events.get(eventId) as DetailsAt<EventDetailsWithLinks>),
          groups: byNumericKey(groups),
          venues: byNumericKey(venues),
        },
      }
    },
  }
}

/** The plan of a whole batch of RSVPs in arrival order. */
export function planBatch(rsvps: readonly Rsvp[]): BatchPlan {
  const planner = createBatchPlanner()
  for (const rsvp of rsvps) planner.add(rsvp)
  return planner.finish()
}

interface Tally {
  yes: number
  attendees: number
}

const MS_PER_HOUR = 3_600_000

/** The start (epoch ms) of the UTC hour an instant falls in. */
export function hourStartOf(epochMs: number): number {
  return Math.floor(epochMs / MS_PER_HOUR) * MS_PER_HOUR
}

/**
 * Rules 2 and 4: how a set of version changes moves each event's yes count and attendees, overall,
 * on the UTC day and in the UTC hour of each version's mtime (days and hours are what date and
 * window queries add up). A version counts +1 yes and +(1 + guests) attendees when its response
 * is exactly 'yes'; a change takes away what `before` counted and adds what `after` counts, so
 * flips, guest changes, day moves and event moves all net out.
 * Only non-zero entries are returned; events sorted by eventId, days by day then eventId, hours by
 * hourStart then eventId (plain string order, the same in every writer, so row locks are always
 * taken in one order).
 */
export function countDeltas(changes: readonly VersionChange[]): CountDeltas {
  const events = new Map<string, Tally>()
  const days = new Map<string, Map<string, Tally>>()
  const hours = new Map<number, Map<string, Tally>>()
  const count = (version: RsvpVersion, sign: 1 | -1): void => {
    if (version.response !== 'yes') return
    const attendees = sign * (1 + version.guests)
    addTo(events, version.eventId, sign, attendees)
    addTo(bucket(days, utcDay(version.mtime)), version.eventId, sign, attendees)
    addTo(bucket(hours, hourStartOf(version.mtime)), version.eventId, sign, attendees)
  }
  for (const change of changes) {
    if (change.before !== undefined) count(change.before, -1)
    count(change.after, 1)
  }

  const eventDeltas = bucketDeltas(events)
  const dayDeltas: DayCountDelta[] = []
  for (const day of Array.from(days.keys()).sort(compareText)) {
    for (const delta of bucketDeltas(days.get(day) as Map<string, Tally>)) dayDeltas.push({ day, ...delta })
  }
  const hourDeltas: HourCountDelta[] = []
  for (const hourStart of Array.from(hours.keys()).sort((a, b) => a - b)) {
    for (const delta of bucketDeltas(hours.get(hourStart) as Map<string, Tally>)) {
      hourDeltas.push({ hourStart, ...delta })
    }
  }
  return { events: eventDeltas, days: dayDeltas, hours: hourDeltas }
}

function bucket<K>(buckets: Map<K, Map<string, Tally>>, key: K): Map<string, Tally> {
  let tallies = buckets.get(key)
  if (tallies === undefined) {
    tallies = new Map()
    buckets.set(key, tallies)
  }
  return tallies
}

function bucketDeltas(tallies: Map<string, Tally>): CountDelta[] {
  const deltas: CountDelta[] = []
  for (const eventId of Array.from(tallies.keys()).sort(compareText)) {
    const tally = tallies.get(eventId) as Tally
    if (tally.yes !== 0 || tally.attendees !== 0) deltas.push({ eventId, yes: tally.yes, attendees: tally.attendees })
  }
  return deltas
}

function addTo(tallies: Map<string, Tally>, eventId: string, yes: number, attendees: number): void {
  const tally = tallies.get(eventId)
  if (tally === undefined) {
    tallies.set(eventId, { yes, attendees })
  } else {
    tally.yes += yes
    tally.attendees += attendees
  }
}

function byNumericKey<T>(map: Map<number, T>): T[] {
  return Array.from(map.keys())
    .sort((a, b) => a - b)
    .map((key) => map.get(key) as T)
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
