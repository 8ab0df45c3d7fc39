/**
 * Response and parameter schemas: they document the API (/openapi.json) and let fastify serialise
 * replies fast. Query parameters are documented here but checked by topk-query.ts.
 */
import { Type } from 'typebox'

const NullableText = Type.Union([Type.String(), Type.Null()])
const NullableNumber = Type.Union([Type.Number(), Type.Null()])

export const ErrorReply = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'invalid_parameter, not_found, unavailable, …' }),
      parameter: Type.Optional(Type.String({ description: 'the parameter at fault, for invalid_parameter' })),
      message: Type.String(),
    }),
  },
  { $id: 'ErrorReply' },
)

const Venue = Type.Union([
  Type.Object({ id: Type.Integer(), name: NullableText, lat: NullableNumber, lon: NullableNumber }),
  Type.Null(),
])

const GroupSummary = {
  id: Type.Integer(),
  name: NullableText,
  urlname: NullableText,
  city: NullableText,
  country: NullableText,
}

export const TopkReply = Type.Object({
  k: Type.Integer(),
  events: Type.Array(
    Type.Object({
      rank: Type.Integer({ minimum: 1 }),
      event_id: Type.String(),
      yes_rsvps: Type.Integer(),
      attendees: Type.Integer(),
      name: NullableText,
      url: NullableText,
      time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      group: Type.Union([Type.Object(GroupSummary), Type.Null()]),
      venue: Venue,
    }),
  ),
})

export const EventReply = Type.Object({
  event_id: Type.String(),
  name: NullableText,
  url: NullableText,
  time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  yes_rsvps: Type.Integer(),
  attendees: Type.Integer(),
  group: Type.Union([
    Type.Object({
      ...GroupSummary,
      topics: Type.Array(Type.Object({ urlkey: Type.String(), name: Type.String() })),
    }),
    Type.Null(),
  ]),
  venue: Venue,
})

export const TopkQuerySchema = Type.Object({
  k: Type.Optional(Type.Integer({ minimum: 1, default: 10, description: 'how many events, 1..TOPK_MAX_K' })),
  date: Type.Optional(Type.String({ format: 'date', description: 'UTC day (YYYY-MM-DD) of the RSVPs current mtime' })),
  from: Type.Optional(Type.String({ description: 'window start, inclusive: ISO-8601 (UTC when no zone) or epoch ms' })),
  to: Type.Optional(Type.String({ description: 'window end, exclusive: ISO-8601 (UTC when no zone) or epoch ms' })),
  country: Type.Optional(Type.String({ description: "the group's two-letter country code, any case" })),
  city: Type.Optional(Type.String({ description: "the group's city, any case" })),
  topic: Type.Optional(Type.String({ description: "one of the group's topic urlkeys" })),
  upcoming: Type.Optional(Type.Boolean({ description: 'true: only events whose time is after now' })),
})
