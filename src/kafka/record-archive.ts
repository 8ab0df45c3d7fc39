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
 * as it is parsed.
 */
import type { KafkaRecord, RecordHeader } from './records.ts'

const NULL = -1
// Chunks rather than one buffer grown by doubling: nothing is copied twice, and at most the
// last chunk is partly empty (a doubled buffer can be half empty, with its old copies garbage).
const CHUNK_BYTES = 1024 * 1024

export class RecordArchive {
  readonly #chunks: Buffer[] = []
  /** bytes used of the last chunk */
  #fill = 0
  #used = 0
  readonly #topics: string[] = []
  readonly #partitions: number[] = []
  readonly #offsets: bigint[] = []
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

  /** Copies `record` in; it keeps no reference to the record or to the buffers it came in. */
  add(record: KafkaRecord): void {
    const index = this.#partitions.length
    this.#topics.push(record.topic)
    this.#partitions.push(record.partition)
    this.#offsets.push(record.offset)
    this.#append(record.key)
    this.#append(record.value)
    if (record.headers.length > 0) {
      const copy = (bytes: Buffer | null) => (bytes === null ? null : Buffer.from(bytes))
      this.#headers.set(
        index,
        record.headers.map((h) => ({ key: copy(h.key), value: copy(h.value) })),
      )
    }
  }

  /**
   * The record at `index` (0-based, in the order added). Its key and value are views of the
   * archive's buffer: read them, or copy them (copyRecord) to keep them past the archive.
   * Throws RangeError for an index out of range.
   */
  get(index: number): KafkaRecord {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`record ${index} is not in an archive of ${this.length}`)
    }
    const at = index * 6
    return {
      topic: this.#topics[index] as string,
      partition: this.#partitions[index] as number,
      offset: this.#offsets[index] as bigint,
      key: this.#view(at),
      value: this.#view(at + 3),
      headers: this.#headers.get(index) ?? [],
    }
  }

  #view(at: number): Buffer | null {
    const chunk = this.#spans[at] as number
    if (chunk === NULL) return null
    const start = this.#spans[at + 1] as number
    return (this.#chunks[chunk] as Buffer).subarray(start, start + (this.#spans[at + 2] as number))
  }

  #append(bytes: Buffer | null): void {
    if (bytes === null) {
      this.#spans.push(NULL, 0, 0)
      return
    }
    let last = this.#chunks.at(-1)
    if (last === undefined || this.#fill + bytes.length > last.length) {
      // A record larger than a chunk gets a chunk of its own size.
      last = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes.length))
      this.#chunks.push(last)
      this.#fill = 0
    }
    bytes.copy(last, this.#fill)
    this.#spans.push(this.#chunks.length - 1, this.#fill, bytes.length)
    this.#fill += bytes.length
    this.#used += bytes.length
  }
}
