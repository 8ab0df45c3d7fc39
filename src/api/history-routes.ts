/**
 * `GET /api/v1/events/{event_id}/history`: an event's yes RSVPs and attendees per hour or day
 * over a window (default: the last 7 days by hour), from the per-hour counts the ingest keeps.
 * What lets a reader see whether an event is rising or fading, which one count cannot show.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { historyPoints } from '../domain/history.ts'
import { MAX_EVENT_ID_LENGTH } from '../domain/parse-rsvp.ts'
import { readEventCounts } from '../store/event-details.ts'
import { readEventHours } from '../store/event-history.ts'
import type { Queryable } from '../store/postgres.ts'
import { parseHistoryQuery } from './history-query.ts'
import { invalidParameter, notFound } from './replies.ts'
import { type RawQuery, textProblem } from './request-text.ts'
import { COMMON_ERRORS, EventIdSchema, errorResponses, HistoryQuerySchema, HistoryReply } from './schemas.ts'

export interface HistoryRoutesOptions {
  readonly db: Queryable
  /** the clock `to` defaults to; tests pin it */
  readonly now?: () => number
}

const documentOnly = () => () => true

export const historyRoutes: FastifyPluginAsync<HistoryRoutesOptions> = async (app: FastifyInstance, options) => {
  const now = options.now ?? Date.now
  app.get<{ Params: { event_id: string } }>(
    '/api/v1/events/:event_id/history',
    {
      schema: {
        summary: 'One event’s yes RSVPs and attendees per hour or day',
        description:
          'Counted by the UTC hour (or day) of each RSVP’s current version, as the counts are; steps without RSVPs are 0. `from` is rounded down and `to` up to whole steps; at most 2,000 steps.',
        params: { type: 'object', properties: { event_id: EventIdSchema }, required: ['event_id'] },
        querystring: HistoryQuerySchema,
        response: { 200: HistoryReply, ...errorResponses(...COMMON_ERRORS, 404) },
      },
      validatorCompiler: documentOnly,
    },
    async (request, reply) => {
      const eventId = request.params.event_id
      const problem = eventId === '' ? 'must not be empty' : textProblem(eventId, MAX_EVENT_ID_LENGTH)
      if (problem !== undefined)
        return invalidParameter(reply, { parameter: 'event_id', message: `event_id ${problem}` })
      const parsed = parseHistoryQuery(request.query as RawQuery, now())
      if (!parsed.ok) return invalidParameter(reply, parsed.error)
      const { from, to, step } = parsed.query
      if ((await readEventCounts(options.db, eventId)) === undefined) {
        return notFound(reply, `no event with event_id "${eventId.length > 80 ? `${eventId.slice(0, 80)}…` : eventId}"`)
      }
      const hours = await readEventHours(options.db, eventId, from, to)
      return {
        event_id: eventId,
        step,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        points: historyPoints(hours, from, to, step).map((point) => ({
          start: new Date(point.start).toISOString(),
          yes_rsvps: point.yes,
          attendees: point.attendees,
        })),
      }
    },
  )
}
