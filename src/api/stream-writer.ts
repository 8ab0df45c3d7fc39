/**
 * Writes one stream's events so that a slow client costs a bounded amount of memory: only the
 * newest unsent event of each kind is kept (a newer ranking replaces one not yet written, since
 * a client only needs the latest), one write is in flight at a time, and a client that takes
 * longer than `maxBlockedMs` to accept a write, or has more than `maxUnsentBytes` buffered, has
 * its stream ended (EventSource reconnects and starts from the current ranking).
 */

export interface StreamEvent {
  readonly event: string
  /** what write() sends: the route passes each event's bytes, formatted once (sse-frames.ts) */
  readonly data: string | Uint8Array
}

export interface StreamWriterOptions {
  /** writes one event; resolves when the socket took it (after a drain if it had to wait) */
  readonly write: (event: StreamEvent, first: boolean) => Promise<void>
  /** bytes written but not yet sent to the client */
  readonly unsentBytes: () => number
  /** ends the stream; told why */
  readonly close: (reason: string) => void
  readonly maxUnsentBytes: number
  readonly maxBlockedMs: number
  /** in ms; tests pin it */
  readonly now?: () => number
}

export interface StreamWriter {
  /**
   * Queues `data` as the next event named `event`, replacing an unsent one of that name. With a
   * `version`, an event not newer than one already offered is dropped (a ranking computed before
   * one already sent).
   */
  offer(event: string, data: StreamEvent['data'], version?: number): void
  /** events offered and not yet written, by name (at most one each) */
  pending(): number
}

/** Events of these names are written first when several wait. */
const ORDER = ['ranking', 'status']

export function createStreamWriter(options: StreamWriterOptions): StreamWriter {
  const now = options.now ?? Date.now
  const waiting = new Map<string, StreamEvent['data']>()
  let newestVersion = 0
  let writing = false
  let writeStartedAt = 0
  let first = true
  let closed = false

  const close = (reason: string) => {
    if (closed) return
    closed = true
    waiting.clear()
    options.close(reason)
  }

  function next(): StreamEvent | undefined {
    for (const name of [...ORDER, ...waiting.keys()]) {
      const data = waiting.get(name)
      if (data !== undefined) {
        waiting.delete(name)
        return { event: name, data }
      }
    }
    return undefined
  }

  async function flush(): Promise<void> {
    if (writing) return
    writing = true
    try {
      for (let event = next(); event !== undefined && !closed; event = next()) {
        writeStartedAt = now()
        const isFirst = first
        first = false
        await options.write(event, isFirst)
      }
    } catch (error) {
      close(`the write failed: ${(error as Error).message}`)
    } finally {
      writing = false
    }
  }

  return {
    offer(event, data, version) {
      if (closed) return
      if (version !== undefined) {
        if (version <= newestVersion) return
        newestVersion = version
      }
      if (writing && now() - writeStartedAt > options.maxBlockedMs) {
        close(`the client has not taken a write for over ${options.maxBlockedMs} ms`)
        return
      }
      if (options.unsentBytes() > options.maxUnsentBytes) {
        close(`more than ${options.maxUnsentBytes} bytes wait for the client`)
        return
      }
      waiting.set(event, data)
      void flush()
    },
    pending: () => waiting.size,
  }
}
