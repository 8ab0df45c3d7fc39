/**
 * Records kept compactly while their batch is in hand: keys and values copied into byte chunks
 * of 1 MB, positions in arrays of small integers.
 *
 * Why: a consumed record is about fifteen objects (the client's record, our wrapper, a headers
 * array, a commit closure…), and its key and value are slices of a fetch response of megabytes
 * that stays alive as long as any of them. A batch keeps its records until it is applied (they are
 * what gets split when PostgreSQL refuses the batch), which is long enough for them to survive
 * young-generation collections and fill the old generation, fetch responses and all. Archived,
 * a record costs a few array slots and its own bytes, and the consumed record is garbage as soon
 * as it is copied in (ingest/record-batches.ts copies each record as it arrives).
 */
import { copyHeaders, type KafkaRecord, type RecordHeader } from './records.ts'

const NULL = -1
// Chunks rather than one buffer grown by doubling: nothing is copied twice, and a chunk is left
// with at most one record's bytes unused (a doubled buffer can be half empty, with its old copies
// garbage). Every chunk is 1 MB, even for the small batches of a steady stream: chunks of 16 KB
// doubling to 1 MB made no difference to `serve`'s peak that could be told from run-to-run noise
// (298 / 320 MB against 280-310 MB), and blocks of 1 MB are mapped and given back when freed.
const CHUNK_BYTES = 1024 * 1024
const MAX_SAFE_OFFSET = BigInt(Number.MAX_SAFE_INTEGER)

export class RecordArchive {
  readonly #chunks: Buffer[] = []
  /** bytes used of the last chunk */
  #fill = 0
  #used = 0
  readonly #topics: string[] = []
  readonly #partitions: number[] = []
  /** offsets as numbers (no BigInt object per record); the rare one past 2^53 in #bigOffsets */
  readonly #offsets: number[] = []
  readonly #bigOffsets = new Map<number, bigint>()
  /** per record: key chunk, start, length, value chunk, start, length (chunk -1: null) */
  readonly #spans: number[] = []
  /** headers of the records that have any (rare: copied as they are) */
  readonly #headers = new Map<number, readonly RecordHeader[]>()

  /** How many records the archive holds. */
  get length(): number {
    return this.#partitions.length
  }

  /** Bytes of keys and values held. */
  get bytes(): number {
    return this.#used
  }

  /**
   * Copies `record` in; it keeps no reference to the record or to the buffers it came in. All or
   * nothing: when copying throws (a key or value that is not a Buffer), the archive is as before.
   */
  add(record: KafkaRecord): void {
    const key = this.#copyIn(record.key)
    const value = this.#copyIn(record.value)
    const headers = record.headers.length > 0 ? copyHeaders(record.headers) : undefined
    // Nothing below can throw: the record's positions are written last, together.
    const index = this.#partitions.length
    if (headers !== undefined) this.#headers.set(index, headers)
    this.#spans.push(key[0], key[1], key[2], value[0], value[1], value[2])
    this.#used += key[2] + value[2]
    this.#topics.push(record.topic)
    if (record.offset <= MAX_SAFE_OFFSET) this.#offsets.push(Number(record.offset))
    else {
      this.#bigOffsets.set(index, record.offset)
      this.#offsets.push(-1)
    }
    this.#partitions.push(record.partition)
  }

  /**
   * The record at `index` (0-based, in the order added). Its key and value are views of the
   * archive's chunks: read them, or copy them (copyRecord) to keep them past the archive.
   * Throws RangeError for an index out of range.
   */
  get(index: number): KafkaRecord {
    this.#checkIndex(index)
    const at = index * 6
    return {
      topic: this.#topics[index] as string,
      partition: this.#partitions[index] as number,
      offset: this.#bigOffsets.get(index) ?? BigInt(this.#offsets[index] as number),
      key: this.#view(at),
      value: this.#view(at + 3),
      headers: this.#headers.get(index) ?? [],
    }
  }

  /**
   * The value of the record at `index`, a view of the archive's chunks, without building the
   * record. Throws RangeError for an index out of range.
   */
  value(index: number): Buffer | null {
    this.#checkIndex(index)
    return this.#view(index * 6 + 3)
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`record ${index} is not in an archive of ${this.length}`)
    }
  }

  #view(at: number): Buffer | null {
    const chunk = this.#spans[at] as number
    if (chunk === NULL) return null
    const start = this.#spans[at + 1] as number
    return (this.#chunks[chunk] as Buffer).subarray(start, start + (this.#spans[at + 2] as number))
  }

  /** Copies `bytes` into a chunk: [chunk, start, length], chunk -1 for null. */
  #copyIn(bytes: Buffer | null): [number, number, number] {
    if (bytes === null) return [NULL, 0, 0]
    let last = this.#chunks.at(-1)
    if (last === undefined || this.#fill + bytes.length > last.length) {
      // A record larger than a chunk gets a chunk of its own size. Never from Node's shared pool:
      // a chunk shares its memory with nothing.
      last = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes.length))
      this.#chunks.push(last)
      this.#fill = 0
    }
    const start = this.#fill
    bytes.copy(last, start)
    this.#fill += bytes.length
    return [this.#chunks.length - 1, start, bytes.length]
  }
}
