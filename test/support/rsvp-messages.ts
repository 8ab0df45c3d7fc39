/**
 * Hand-made RSVP messages for tests that need one exact message rather than a generated stream:
 * a builder with sensible defaults, and text that is hard to store (random characters of 1, 3 and
 * 4 UTF-8 bytes, which no compression shrinks).
 */
import type { GeneratedMessage } from '../../src/producer/generator.ts'

export interface RsvpFields {
  readonly rsvpId: number
  readonly eventId: string
  readonly mtime?: number
  readonly response?: string
  readonly guests?: number
  readonly eventName?: string
  readonly eventUrl?: string
  readonly groupId?: number
  readonly groupName?: string
  readonly groupUrlname?: string
  readonly groupCity?: string
  readonly groupCountry?: string
  readonly groupState?: string
  readonly topics?: ReadonlyArray<{ urlkey: string; topic_name: string }>
  readonly venueId?: number
  readonly venueName?: string
  readonly memberName?: string
  readonly photo?: string
}

const BASE_MTIME = Date.UTC(2026, 10, 1, 12)

/** The JSON object of an RSVP in the classic Meetup stream format. */
export function rsvpObject(fields: RsvpFields): Record<string, unknown> {
  return {
    venue: {
      venue_id: fields.venueId ?? 500,
      venue_name: fields.venueName ?? 'The Hall',
      lat: 41.88,
      lon: -87.63,
    },
    visibility: 'public',
    response: fields.response ?? 'yes',
    guests: fields.guests ?? 0,
    member: { member_id: 9000 + fields.rsvpId, member_name: fields.memberName ?? 'Ann', photo: fields.photo },
    rsvp_id: fields.rsvpId,
    mtime: fields.mtime ?? BASE_MTIME + fields.rsvpId,
    event: {
      event_id: fields.eventId,
      event_name: fields.eventName ?? `Event ${fields.eventId}`,
      event_url: fields.eventUrl ?? `https://www.meetup.com/x/events/${encodeURIComponent(fields.eventId)}/`,
      time: BASE_MTIME + 7 * 86_400_000,
    },
    group: {
      group_id: fields.groupId ?? 70,
      group_name: fields.groupName ?? 'Chicago Coders',
      group_urlname: fields.groupUrlname ?? 'chicago-coders',
      group_city: fields.groupCity ?? 'Chicago',
      group_country: fields.groupCountry ?? 'us',
      group_state: fields.groupState ?? 'IL',
      group_lat: 41.88,
      group_lon: -87.63,
      group_topics: fields.topics ?? [{ urlkey: 'softwaredev', topic_name: 'Software Development' }],
    },
  }
}

/** The message of an RSVP, keyed by its rsvp_id as real producers key them. */
export function rsvpMessage(fields: RsvpFields): GeneratedMessage {
  return { key: String(fields.rsvpId), value: JSON.stringify(rsvpObject(fields)), kind: 'new' }
}

/**
 * `units` UTF-16 code units of random characters of one UTF-8 width: 1 (printable ASCII), 3 (CJK,
 * U+4E00–U+9FFF) or 4 (CJK Extension B, U+20000–U+2A6DF, two units each).
 */
export function randomText(random: () => number, units: number, bytesPerChar: 1 | 3 | 4): string {
  const chars: string[] = []
  let length = 0
  while (length + (bytesPerChar === 4 ? 2 : 1) <= units) {
    if (bytesPerChar === 1) chars.push(String.fromCharCode(0x21 + Math.floor(random() * 94)))
    else if (bytesPerChar === 3) chars.push(String.fromCharCode(0x4e00 + Math.floor(random() * 0x5200)))
    else chars.push(String.fromCodePoint(0x20000 + Math.floor(random() * 0xa6e0)))
    length += bytesPerChar === 4 ? 2 : 1
  }
  return chars.join('')
}
