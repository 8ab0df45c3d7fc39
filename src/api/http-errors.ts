/**
 * Every error answer the HTTP server can give has the API's one shape,
 * `{"error":{"code","parameter"?,"message"}}`, whichever layer gives it: the router (a malformed
 * URL), Node's HTTP parser (headers too large, a request too slow), fastify (a body too large, a
 * content type it cannot parse), an unknown route or method, and our own handlers. What an error
 * means was decided where it happened (store/database-errors.ts for PostgreSQL); here it only
 * becomes a status through the registry in errors.ts.
 *
 * Errors that a client causes are logged at warn at most, and rate-limited; error level is kept
 * for what the service did wrong.
 */

import { type IncomingMessage, METHODS, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerDefault,
} from 'fastify'
import { ErrorCodes, httpStatusOf, isAppError } from '../errors.ts'
import { createLogSampler } from '../observability/log-sampler.ts'
import { errorBody } from './replies.ts'

/** The error code of the API's shape for each status the server can give. */
export const ERROR_CODE_OF_STATUS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'header_too_large',
  500: 'internal_error',
  503: 'unavailable',
}

function codeOf(status: number): string {
  return ERROR_CODE_OF_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request')
}

type App<L extends FastifyBaseLogger> = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>

const sampler = createLogSampler()

/** A warning a client caused: rate-limited, with how many were held back. */
function clientWarning(request: FastifyRequest, kind: string, fields: Record<string, unknown>, message: string): void {
  const { log, suppressed } = sampler.take(kind)
  if (log) request.log.warn({ ...fields, ...(suppressed > 0 && { suppressed }) }, message)
}

/** Fastify's handler for the errors it raises before routing (a malformed URL). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 400
  clientWarning(request, 'framework', { code: error.code }, 'refused a malformed request')
  void reply.code(status).send(errorBody(codeOf(status), urlMessage(error)))
}

function urlMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_BAD_URL') return 'the URL is not valid: percent-escapes must encode UTF-8'
  return STATUS_CODES[error.statusCode ?? 400] ?? 'bad request'
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them (headers over
 * maxHeaderSize, a request slower than requestTimeout, bytes that are not HTTP): the answer is
 * written on the socket, in the same shape.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const message =
    status === 431
      ? 'the request headers are too large'
      : status === 408
        ? 'the request took too long to arrive'
        : 'the request is not valid HTTP'
  const body = JSON.stringify(errorBody(codeOf(status), message))
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** The error handler and the not-found handler of the server. */
export function installErrorHandlers<L extends FastifyBaseLogger>(app: App<L>): void {
  app.setNotFoundHandler((request, reply) => {
    clientWarning(request, 'not-found', {}, 'no such route')
    return reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${pathOf(request)}`))
  })
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!isAppError(error) && error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      clientWarning(request, 'client', { code: error.code, route: request.routeOptions.url }, 'refused a request')
      return reply.code(error.statusCode).send(errorBody(codeOf(error.statusCode), error.message))
    }
    const status = httpStatusOf(error)
    if (status === 503) {
      clientWarning(
        request,
        'unavailable',
        { err: error, route: request.routeOptions.url },
        'a dependency is unavailable',
      )
      return reply.code(503).send(errorBody('unavailable', 'the database is unavailable; try again shortly'))
    }
    if (isAppError(error, ErrorCodes.DATABASE_REJECTED)) {
      clientWarning(
        request,
        'rejected',
        { err: error, route: request.routeOptions.url },
        'the database refused a value',
      )
      return reply.code(400).send(errorBody('bad_request', 'the request holds a value the database cannot take'))
    }
    request.log.error({ err: error, route: request.routeOptions.url }, 'request failed')
    return reply.code(500).send(errorBody('internal_error', 'internal error'))
  })
}

/**
 * For every GET route: OPTIONS answers 204 with the methods it allows, and the other methods
 * answer 405 with them (fastify would say 404). HEAD comes with GET from fastify itself.
 * "The other methods" are every method Node's HTTP parser accepts (http.METHODS: WebDAV's
 * PROPFIND, LOCK, MKCOL… included), not only the ones fastify routes by default, which answered
 * 404 for the rest. CONNECT is the exception: Node hands it to a 'connect' listener, not to
 * fastify, and with none it closes the connection.
 */
export function installMethodHandlers<L extends FastifyBaseLogger>(app: App<L>, paths: Iterable<string>): void {
  const allow = 'GET, HEAD, OPTIONS'
  for (const method of METHODS) {
    // Declared with a body so that fastify reads one if sent; the 405 is answered before it anyway.
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  }
  for (const url of paths) {
    app.route({
      method: 'OPTIONS',
      url,
      schema: { hide: true },
      handler: async (_request, reply) => reply.code(204).header('allow', allow).send(),
    })
    const notAllowed = async (request: FastifyRequest, reply: FastifyReply) =>
      reply
        .code(405)
        .header('allow', allow)
        .send(errorBody('method_not_allowed', `${request.method} is not allowed on ${pathOf(request)}; use GET`))
    app.route({
      method: app.supportedMethods.filter((method) => !['GET', 'HEAD', 'OPTIONS'].includes(method)),
      url,
      schema: { hide: true },
      // Answered before the body is read: a 405 does not depend on its type or size.
      onRequest: notAllowed,
      handler: notAllowed,
    })
  }
}

function pathOf(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? ''
  return path.length > 200 ? `${path.slice(0, 200)}…` : path
}
