/**
 * Server-Sent Events as bytes, formatted once and shared. A ranking goes to every stream that
 * follows its query; formatting it per stream (as @fastify/sse's send() does) made 1,000 streams of
 * a k=1000 ranking (about 470 KB) hold 1,000 copies of each change. One Buffer per ranking version
 * is written to every socket instead: a socket queues a reference to it, not a copy.
 *
 * The format is the HTML standard's (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `event:` and one `data:` line per line of the data, and a blank line that ends the event.
 */
/**
 * One event's bytes: `event: <event>`, then the data's lines (CR, LF or CRLF split them, as the
 * standard reads them), then the blank line.
 */
export function sseFrame(event: string, data: string): Buffer {
  let text = `event: ${event}\n`
  for (const line of data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`
  return Buffer.from(`${text}\n`)
}

/**
 * A frame per value, built the first time a stream asks for it and kept as long as the value
 * lives: the hub hands the same Ranking object to every stream of its query, the status feed the
 * same status object to every stream.
 */
export function createSharedFrames<T extends object>(
  event: string,
  dataOf: (value: T) => string,
): (value: T) => Buffer {
  const frames = new WeakMap<T, Buffer>()
  return (value) => {
    let frame = frames.get(value)
    if (frame === undefined) {
      frame = sseFrame(event, dataOf(value))
      frames.set(value, frame)
    }
    return frame
  }
}
