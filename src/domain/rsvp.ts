/**
 * The RSVP as the service understands it, after parsing and validation. Only `rsvpId`, `mtime`,
 * `response` and `event.eventId` are required (rule 6 of docs/contract.md); every other part is
 * optional and absent rather than null when the message lacks it.
 *
 * The member who answered is not kept: nothing the service offers reads who RSVPed, and the names
 * and photos of real people from a public stream are not ours to store (README, "Privacy").
 */

export interface EventDetails {
  readonly eventId: string
  readonly name: string | undefined
  readonly url: string | undefined
  /** epoch ms of the event's start, when the message carries it */
  readonly time: number | undefined
}

export interface GroupTopic {
  readonly urlkey: string
  readonly name: string
}

export interface GroupDetails {
  readonly groupId: number
  readonly name: string | undefined
  readonly urlname: string | undefined
  readonly city: string | undefined
  /** lower case, as upstream sends it */
  readonly country: string | undefined
  readonly state: string | undefined
  readonly lat: number | undefined
  readonly lon: number | undefined
  readonly topics: readonly GroupTopic[]
}

export interface VenueDetails {
  readonly venueId: number
  readonly name: string | undefined
  /** undefined when upstream sent 0 (its way of saying "unknown") */
  readonly lat: number | undefined
  readonly lon: number | undefined
}

export interface Rsvp {
  readonly rsvpId: number
  /** epoch ms at which this version of the RSVP was made */
  readonly mtime: number
  /** 'yes' counts; 'no' and anything else count nothing */
  readonly response: string
  /** 0 when absent or unusable */
  readonly guests: number
  readonly event: EventDetails
  readonly group: GroupDetails | undefined
  readonly venue: VenueDetails | undefined
}

/** What the store keeps per RSVP: its current version, reduced to what counting needs. */
export interface RsvpVersion {
  readonly rsvpId: number
  readonly mtime: number
  readonly eventId: string
  readonly response: string
  readonly guests: number
}

export type ParseResult = { readonly ok: true; readonly rsvp: Rsvp } | { readonly ok: false; readonly reason: string }
