/**
 * JSON-lines input for `rsvp-topk produce --file`: a file or stdin, gzip or not, streamed, turned
 * into one Kafka message per line. Lines are split on bytes, never decoded and re-encoded, so a
 * malformed line (bad JSON, bad UTF-8, a NUL byte) reaches Kafka exactly as it is in the file:
 * that is how the dead-letter path gets tested.
 *
 * What a line is:
 *   - the bytes up to a '\n', without it; a '\r' just before the '\n' (CRLF files) is dropped too,
 *     while a '\r' anywhere else is content;
 *   - a last line without a terminator counts;
 *   - lines holding nothing but spaces and tabs are blank and skipped;
 *   - a UTF-8 byte order mark at the very start of the input is dropped (editors add it; it is
 *     not part of the first message);
 *   - a line longer than MAX_LINE_BYTES is an error: Kafka would refuse it, and a file without
 *     newlines must not be read into memory whole.
 */
import { fstatSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { AppError, ErrorCodes } from '../errors.ts'

/** One message to send: the line's bytes and, when it names one, its rsvp_id as the key. */
export interface KeyedLine {
  readonly key: Buffer | undefined
  readonly value: Buffer
}

export interface LineSource {
  /** the input's size in bytes (compressed, for gzip) when it is a regular file; else undefined */
  readonly totalBytes: number | undefined
  /** bytes read from the input so far (compressed, for gzip), for progress against totalBytes */
  bytesRead(): number
  /** blank lines skipped so far */
  blankLines(): number
  /** the messages, in file order; iterate once */
  readonly lines: AsyncIterable<KeyedLine>
  /** stops reading (idempotent); an iteration under way ends */
  close(): void
}

export interface LineSourceOptions {
  /** what `-` reads (default process.stdin) */
  readonly stdin?: Readable
  /** bytes per read from a file (default 256 KiB) */
  readonly chunkBytes?: number
  readonly maxLineBytes?: number
}

/** Kafka's default message.max.bytes is 1 MiB; a line must fit with its key and framing. */
export const MAX_LINE_BYTES = 1_000_000

const NEWLINE = 0x0a
const CR = 0x0d
const GZIP_MAGIC = [0x1f, 0x8b] as const

/**
 * Opens `path` (or stdin for `-`) and reads it as JSON lines, gunzipping when the name ends in
 * `.gz` or the data starts with gzip's magic bytes. Throws AppError(RSVP_USAGE) when the file
 * cannot be opened, so a wrong path fails before anything connects to Kafka.
 */
export async function openLineSource(path: string, options: LineSourceOptions = {}): Promise<LineSource> {
  let input: Readable
  let totalBytes: number | undefined
  if (path === '-') {
    input = options.stdin ?? process.stdin
    const fd = (input as { fd?: unknown }).fd
    // `produce --file - < big.jsonl`: stdin is the file itself, so its size is known
    if (typeof fd === 'number') {
      try {
        const stat = fstatSync(fd)
        if (stat.isFile()) totalBytes = stat.size
      } catch {}
    }
  } else {
    let handle: Awaited<ReturnType<typeof open>>
    try {
      handle = await open(path, 'r')
    } catch (error) {
      throw new AppError(ErrorCodes.USAGE, `cannot read ${path}: ${describe(error)}`, { cause: error, path })
    }
    const stat = await handle.stat()
    if (!stat.isFile() && !stat.isFIFO()) {
      await handle.close()
      throw new AppError(ErrorCodes.USAGE, `cannot read ${path}: not a file`, { path })
    }
    if (stat.isFile()) totalBytes = stat.size
    input = handle.createReadStream({ highWaterMark: options.chunkBytes ?? 256 * 1024 })
  }

  let bytes = 0
  let blanks = 0
  let closed = false
  const counted = (async function* () {
    try {
      for await (const chunk of input as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
        bytes += buffer.length
        yield buffer
      }
    } catch (error) {
      // close() destroys the stream to stop a read that may wait forever (a quiet pipe)
      if (!closed) throw error
    }
  })()
  const forceGzip = path !== '-' && path.toLowerCase().endsWith('.gz')
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES
  const name = path === '-' ? 'stdin' : path

  async function* lines(): AsyncGenerator<KeyedLine> {
    try {
      for await (const line of splitLines(maybeGunzip(counted, forceGzip, name), maxLineBytes, name)) {
        if (isBlank(line)) {
          blanks++
          continue
        }
        yield { key: keyOf(line), value: line }
      }
    } finally {
      input.destroy()
    }
  }

  return {
    totalBytes,
    bytesRead: () => bytes,
    blankLines: () => blanks,
    lines: lines(),
    close() {
      if (closed) return
      closed = true
      input.destroy()
    },
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return code ?? (error as Error).message
}

/** Passes the bytes through, or through gunzip when forced or when they start with gzip's magic. */
async function* maybeGunzip(chunks: AsyncIterable<Buffer>, force: boolean, name: string): AsyncGenerator<Buffer> {
  const iterator = chunks[Symbol.asyncIterator]()
  // Sniffing needs two bytes, and a pipe may deliver one at a time.
  const head: Buffer[] = []
  let headBytes = 0
  let done = false
  while (headBytes < GZIP_MAGIC.length) {
    const next = await iterator.next()
    if (next.done) {
      done = true
      break
    }
    head.push(next.value)
    headBytes += next.value.length
  }
  const first = Buffer.concat(head)
  const rest = (async function* () {
    if (first.length > 0) yield first
    if (done) return
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value
    }
  })()
  const gzip = first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1]
  if (!gzip && !force) {
    yield* rest
    return
  }
  const gunzip = createGunzip()
  // pipeline destroys both streams when either fails or the reader stops early
  pipeline(Readable.from(rest), gunzip, () => {})
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      throw new AppError(ErrorCodes.USAGE, `${name} is not valid gzip: ${(error as Error).message}`, {
        cause: error,
        path: name,
      })
    }
    throw error
  } finally {
    gunzip.destroy()
  }
}

/**
 * Splits a byte stream into lines without their '\n' (or '\r\n'); a UTF-8 BOM at the very start is
 * dropped. Lines inside one chunk are views of it, not copies.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes = MAX_LINE_BYTES,
  name = 'input',
): AsyncGenerator<Buffer> {
  // the start of a line that continues in the next chunk
  let pending: Buffer[] = []
  let pendingBytes = 0
  let lineNumber = 0
  let first = true
  const finish = (line: Buffer): Buffer => {
    lineNumber++
    if (line.length > maxLineBytes) {
      throw new AppError(ErrorCodes.USAGE, `${name}: line ${lineNumber} is longer than ${maxLineBytes} bytes`, {
        path: name,
        line: lineNumber,
      })
    }
    return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line
  }
  for await (const raw of chunks) {
    let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
    if (first && chunk.length > 0) {
      first = false
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3)
    }
    let start = 0
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start)
      if (end === -1) break
      if (pendingBytes > 0) {
        pending.push(chunk.subarray(start, end))
        yield finish(Buffer.concat(pending))
        pending = []
        pendingBytes = 0
      } else {
        yield finish(chunk.subarray(start, end))
      }
      start = end + 1
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start))
      pendingBytes += chunk.length - start
      if (pendingBytes > maxLineBytes + 1) finish(Buffer.concat(pending))
    }
  }
  if (pendingBytes > 0) yield finish(Buffer.concat(pending))
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) if (byte !== 0x20 && byte !== 0x09) return false
  return true
}

// The first `"rsvp_id": <digits>` or `"rsvp_id": "<text>"` of a line that is not valid JSON.
const RSVP_ID_TEXT = /"rsvp_id"\s*:\s*(?:(-?\d+)|"((?:[^"\\]|\\.)*)")/

/**
 * The key of a line: its top-level `rsvp_id` (a number or a string) when the line is a JSON object.
 * A line that is not JSON but shows `"rsvp_id": …` (a truncated message, say) is keyed by it too,
 * as the generator does, so every version of an RSVP — broken ones included — shares a partition.
 */
export function keyOf(line: Buffer): Buffer | undefined {
  const text = line.toString('utf8')
  if (!text.includes('"rsvp_id"')) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    const match = RSVP_ID_TEXT.exec(text)
    const id = match?.[1] ?? match?.[2]
    return id ? Buffer.from(id) : undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return undefined
  }
  const id = (parsed as { rsvp_id?: unknown }).rsvp_id
  // an integer too big for a double keeps its digits as written
  if (typeof id === 'number' && !Number.isSafeInteger(id) && Number.isInteger(id)) {
    const digits = RSVP_ID_TEXT.exec(text)?.[1]
    if (digits !== undefined) return Buffer.from(digits)
  }
  if (typeof id === 'number' && Number.isFinite(id)) return Buffer.from(String(id))
  if (typeof id === 'string' && id !== '') return Buffer.from(id)
  return undefined
}
