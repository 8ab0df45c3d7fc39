/**
 * The events API: top k (all-time, on a date, in a window, filtered) and one event's details.
 * Ranks and counts come from PostgreSQL's maintained counts; names, groups and venues from the
 * details source (the Redis ring in front of PostgreSQL).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { EventDetailsSource } from '../cache/event-details-cache.ts'
import { MAX_EVENT_ID_LENGTH } from '../domain/parse-rsvp.ts'
import { readEventCounts } from '../store/event-details.ts'
import type { Queryable } from '../store/postgres.ts'
import { invalidParameter, notFound } from './replies.ts'
import type { CoalescedRequest } from './request-coalescing.ts'
import { type RawQuery, textProblem } from './request-text.ts'
import { createResponseCache } from './response-cache.ts'
import { COMMON_ERRORS, EventIdSchema, EventReply, errorResponses, TopkQuerySchema, TopkReply } from './schemas.ts'
import { createTopkAnswerer } from './topk-answer.ts'
import { parseTopkQuery, unknownParameter } from './topk-query.ts'

export interface EventsRoutesOptions {
  readonly db: Queryable
  readonly details: EventDetailsSource
  readonly maxK: number
  /** how long a top-k answer is reused for the same query (see response-cache.ts); 0 = never */
  readonly answerReuseMs: number
  /** the most bytes of reused answers held at once */
  readonly answerReuseMaxBytes: number
  /**
   * without reuse: whether concurrent requests for one query share a computation that began after
   * all of them arrived (request-coalescing.ts); default true
   */
  readonly coalesceRequests?: boolean
  /** told of each coalesced request: `started` a computation, or `waited` for the next round */
  readonly onCoalescedRequest?: (how: CoalescedRequest) => void
  /** the widest window a top-k query may ask for, in ms */
  readonly maxWindowMs: number
  /** told how many bytes the reused answers take after each computation */
  readonly onAnswerCacheBytes?: (bytes: number) => void
  /** the clock `upcoming` compares with; tests pin it */
  readonly now?: () => number
}

// The query string is checked by parseTopkQuery, whose messages name the API's rules; the schema
// only documents it.
const documentOnly = () => () => true

export const eventsRoutes: FastifyPluginAsync<EventsRoutesOptions> = async (app: FastifyInstance, options) => {
  const now = options.now ?? Date.now
  const answers = createResponseCache({
    ttlMs: options.answerReuseMs,
    maxBytes: options.answerReuseMaxBytes,
    coalesce: options.coalesceRequests ?? true,
    onCoalescedRequest: options.onCoalescedRequest,
  })
  app.addHook('onClose', async () => answers.close())

  const topkAnswer = createTopkAnswerer({ db: options.db, details: options.details, now })

  app.get(
    '/api/v1/events/topk',
    {
      schema: {
        summary: 'The top k events by yes RSVPs',
        description:
          'Ranked by yes_rsvps descending, then event_id ascending (byte order). `date` or a [`from`, `to`) window count only RSVPs whose current version falls in it; the filters look at the event’s group and time.',
        querystring: TopkQuerySchema,
        response: { 200: TopkReply, ...errorResponses(...COMMON_ERRORS) },
      },
      validatorCompiler: documentOnly,
    },
    async (request, reply) => {
      const parsed = parseTopkQuery(request.query as RawQuery, {
        maxK: options.maxK,
        maxWindowMs: options.maxWindowMs,
        now: now(),
      })
      if (!parsed.ok) return invalidParameter(reply, parsed.error)
      // Serialised once per reuse period, then sent as is: the schema above documents its shape.
      const answer = await answers.get(JSON.stringify(parsed.query), async () => {
        const computed = Buffer.from(await topkAnswer(parsed.query))
        options.onAnswerCacheBytes?.(answers.bytes())
        return computed
      })
      return reply.type('application/json; charset=utf-8').send(answer)
    },
  )

  async function eventReply(eventId: string) {
    const counts = await readEventCounts(options.db, eventId)
    if (counts === undefined) return undefined
    const found = (await options.details.getMany([eventId])).get(eventId)
    return {
      event_id: eventId,
      name: found?.name ?? null,
      url: found?.url ?? null,
      time: found?.time ?? null,
      yes_rsvps: counts.yes,
      attendees: counts.attendees,
      group: found?.group ?? null,
      venue: found?.venue ?? null,
    }
  }

  const eventSchema = {
    response: { 200: EventReply, ...errorResponses(...COMMON_ERRORS, 404) },
  }

  app.get(
    '/api/v1/events/info',
    {
      schema: {
        ...eventSchema,
        summary: 'One event: details and counts (event_id in the query string)',
        querystring: { type: 'object', properties: { event_id: EventIdSchema }, required: ['event_id'] },
      },
      validatorCompiler: documentOnly,
    },
    async (request, reply) => {
      const query = request.query as RawQuery
      const unknown = unknownParameter(query, ['event_id'])
      if (unknown !== undefined) return invalidParameter(reply, unknown)
      const eventId = query.event_id
      if (typeof eventId !== 'string') {
        return invalidParameter(reply, {
          parameter: 'event_id',
          message: eventId === undefined ? 'event_id is required' : 'event_id must be given once',
        })
      }
      return (await answerEvent(eventId, reply)) ?? reply
    },
  )

  app.get<{ Params: { event_id: string } }>(
    '/api/v1/events/:event_id',
    {
      schema: {
        ...eventSchema,
        summary: 'One event: details and counts',
        params: { type: 'object', properties: { event_id: EventIdSchema }, required: ['event_id'] },
      },
      validatorCompiler: documentOnly,
    },
    async (request, reply) => {
      // As on every route of the API: a parameter it does not know is refused, not ignored.
      const unknown = unknownParameter(request.query as RawQuery, [])
      if (unknown !== undefined) return invalidParameter(reply, unknown)
      return (await answerEvent(request.params.event_id, reply)) ?? reply
    },
  )

  async function answerEvent(eventId: string, reply: Parameters<typeof notFound>[0]) {
    // No stored event_id is empty, longer than 255, or holds NUL or an unpaired surrogate (rule 6).
    const problem = eventId === '' ? 'must not be empty' : textProblem(eventId, MAX_EVENT_ID_LENGTH)
    if (problem !== undefined) {
      invalidParameter(reply, { parameter: 'event_id', message: `event_id ${problem}` })
      return undefined
    }
    const event = await eventReply(eventId)
    if (event === undefined) {
      notFound(reply, `no event with event_id "${eventId.length > 80 ? `${eventId.slice(0, 80)}…` : eventId}"`)
      return undefined
    }
    return event
  }
}
