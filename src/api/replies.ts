/**
 * The one error shape of the API: `{ "error": { "code", "parameter"?, "message" } }`.
 * Messages are written for the user and never carry internals (SQL, hosts, secrets).
 */
import type { FastifyReply } from 'fastify'
import type { ParameterError } from './topk-query.ts'

export function errorBody(code: string, message: string, parameter?: string) {
  return { error: { code, ...(parameter !== undefined && { parameter }), message } }
}

export function invalidParameter(reply: FastifyReply, error: ParameterError): FastifyReply {
  return reply.code(400).send(errorBody('invalid_parameter', error.message, error.parameter))
}

export function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(404).send(errorBody('not_found', message))
}
