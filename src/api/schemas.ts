/**
 * Response and parameter schemas: they document the API (/openapi.json) and let fastify serialise
 * replies fast. Query parameters are documented here but checked by topk-query.ts.
 */
import { Type } from 'typebox'
import { TOPK_FILTERS } from './topk-filters.ts'

const NullableText = Type.Union([Type.String(), Type.Null()])
const NullableNumber = Type.Union([Type.Number(), Type.Null()])

const ErrorObject = Type.Object({
  code: Type.String({
    description:
      'invalid_parameter, bad_request, not_found, method_not_allowed, request_timeout, payload_too_large, uri_too_long, unsupported_media_type, header_too_large, internal_error, unavailable',
  }),
  parameter: Type.Optional(Type.String({ description: 'the parameter at fault, for invalid_parameter' })),
  message: Type.String(),
})

export const ErrorReply = Type.Object({ error: ErrorObject }, { $id: 'ErrorReply' })

const ERROR_STATUS_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'a parameter is malformed, repeated or unknown, or not UTF-8, or holds NUL',
  404: 'no such event',
  405: 'only GET, HEAD and OPTIONS',
  408: 'the request took too long to arrive',
  413: 'a request body (no route takes one)',
  414: 'the URL is longer than 4 KB',
  415: 'a request body of a type no route takes',
  431: 'the headers are larger than 16 KB',
  500: 'the service failed',
  503: 'PostgreSQL is unavailable, or the service is starting',
}

/** The error answers a route can give, for its response schema (the OpenAPI document lists them). */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorReply> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      Type.Object({ error: ErrorObject }, { description: ERROR_STATUS_DESCRIPTIONS[status] ?? 'an error' }),
    ]),
  )
}

/** Statuses every API route can answer with, whatever its parameters. */
export const COMMON_ERRORS = [400, 405, 408, 413, 414, 431, 500, 503] as const

const DependencyState = Type.Object({
  status: Type.Union([Type.Literal('waiting'), Type.Literal('up'), Type.Literal('failing'), Type.Literal('down')]),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  error: Type.Optional(Type.String()),
})

/** /readyz: 200 with `status`, or 503 with `error`; both name each dependency's state. */
export const ReadyReply = Type.Object({
  status: Type.Optional(Type.Literal('ready')),
  error: Type.Optional(ErrorObject),
  dependencies: Type.Record(Type.String(), DependencyState),
})

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

export const HistoryQuerySchema = Type.Object({
  from: Type.Optional(
    Type.String({ description: 'start, inclusive: ISO-8601 (UTC when no zone) or epoch ms; default 7 days before to' }),
  ),
  to: Type.Optional(
    Type.String({ description: 'end, exclusive: ISO-8601 (UTC when no zone) or epoch ms; default now' }),
  ),
  step: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'hour' })),
})

export const HistoryReply = Type.Object({
  event_id: Type.String(),
  step: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  points: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time' }),
      yes_rsvps: Type.Integer(),
      attendees: Type.Integer(),
    }),
  ),
})

/** An event id as the contract allows it (rule 6): 1 to 255 characters, no NUL. */
export const EventIdSchema = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[^\\u0000]+$',
  description: 'the event_id of the stream (1 to 255 characters)',
})

export const TopkQuerySchema = Type.Object({
  k: Type.Optional(Type.Integer({ minimum: 1, default: 10, description: 'how many events, 1..TOPK_MAX_K' })),
  date: Type.Optional(Type.String({ format: 'date', description: 'UTC day (YYYY-MM-DD) of the RSVPs current mtime' })),
  from: Type.Optional(
    Type.String({
      description:
        'window start, inclusive: ISO-8601 (UTC when no zone) or epoch ms; a window spans at most TOPK_MAX_WINDOW_DAYS',
    }),
  ),
  to: Type.Optional(
    Type.String({ description: 'window end, exclusive: ISO-8601 (UTC when no zone) or epoch ms; default now' }),
  ),
  last: Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,6}[mhd]$',
      description:
        'a sliding window ending now, such as 15m, 1h, 24h or 7d (at most TOPK_MAX_WINDOW_DAYS); not with date, from or to',
    }),
  ),
  ...Object.fromEntries(
    TOPK_FILTERS.map((filter) => [filter.name, Type.Optional({ ...filter.schema, description: filter.description })]),
  ),
})
