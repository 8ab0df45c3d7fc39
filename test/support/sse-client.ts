/**
 * A Server-Sent Events client for tests: opens a stream with fetch, parses it with
 * eventsource-parser, keeps every event, and lets a test wait for a state of what it received.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { waitFor } from './http.ts'

export interface SseStream {
  readonly status: number
  /** the body of a response that was not a stream (e.g. a 400 or 503 error), else undefined */
  readonly errorBody: unknown
  readonly events: readonly EventSourceMessage[]
  /** the `data` of the last event named `name`, parsed as JSON, or undefined */
  last(name: string): unknown
  /** Waits until the last event named `name` satisfies `accept` (JSON-parsed data); returns it. */
  waitForEvent<T>(name: string, accept: (data: T) => boolean, timeoutMs?: number): Promise<T>
  /** resolves when the server ends the stream (or it fails) */
  readonly ended: Promise<void>
  close(): void
}

/** Opens `url` as an event stream; resolves once the response headers (and an error body) are in. */
export async function openStream(url: string): Promise<SseStream> {
  const abort = new AbortController()
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal })
  const events: EventSourceMessage[] = []
  const isStream = response.ok && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')
  let errorBody: unknown
  let ended: Promise<void> = Promise.resolve()
  if (!isStream) {
    const text = await response.text()
    try {
      errorBody = JSON.parse(text)
    } catch {
      errorBody = text
    }
  } else {
    const parser = createParser({ onEvent: (event) => events.push(event) })
    const body = response.body as ReadableStream<Uint8Array>
    ended = (async () => {
      const decoder = new TextDecoder()
      try {
        for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }))
      } catch {
        // aborted by close(), or the connection dropped: either way the stream has ended
      }
    })()
  }
  const last = (name: string): unknown => {
    const found = events.findLast((event) => event.event === name)
    return found === undefined ? undefined : JSON.parse(found.data)
  }
  return {
    status: response.status,
    errorBody,
    events,
    last,
    waitForEvent: <T>(name: string, accept: (data: T) => boolean, timeoutMs = 60_000) =>
      waitFor(
        `a ${name} event that fits`,
        async () => {
          const data = last(name) as T | undefined
          return data !== undefined && accept(data) ? data : undefined
        },
        timeoutMs,
      ),
    ended,
    close: () => abort.abort(),
  }
}
