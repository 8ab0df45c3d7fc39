/**
 * The live page (`GET /`) and its assets, served by the service itself: the machine that runs it
 * may have no internet, so there is no CDN and no build step. The files (src/api/page/) are read
 * once at start and answered from memory with a strong ETag; browsers revalidate each load
 * (`no-cache`), which costs a 304 and keeps a page never older than the service that serves it.
 * Every answer carries a Content-Security-Policy that allows only this origin: the page's own
 * script, style and API calls, no inline code.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'

const PAGE_DIR = new URL('./page/', import.meta.url)

/** URL path → file in src/api/page and its Content-Type. */
const FILES: ReadonlyArray<readonly [path: string, file: string, type: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/assets/page.css', 'page.css', 'text/css; charset=utf-8'],
  ['/assets/page.js', 'page.js', 'text/javascript; charset=utf-8'],
  ['/assets/favicon.svg', 'favicon.svg', 'image/svg+xml'],
]

/** Only this origin: no inline script or style, no frames, no plugins; forms and links stay here. */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')

/** Serves the live page and its assets from memory, with caching and security headers. */
export const pageRoutes: FastifyPluginAsync = async (app) => {
  for (const [path, file, type] of FILES) {
    const body = await readFile(new URL(file, PAGE_DIR))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      reply
        .header('content-type', type)
        .header('cache-control', 'no-cache')
        .header('etag', etag)
        .header('content-security-policy', PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
      if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()
      return reply.send(body)
    })
  }
}

/** If-None-Match holds this ETag (or `*`), weak or strong: the browser's copy is current. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`
  })
}
