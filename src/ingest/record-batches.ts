/**
 * Cuts the consumed stream into batches as the records arrive, copying each one at once into
 * its batch's RecordArchive (its bytes into chunks, its position into arrays of numbers).
 *
 * Why at once: the Kafka client decodes a whole fetch response (thousands of records, each a
 * dozen objects) when it arrives. Left in the client's stream until a busy ingest reads them, the
 * records outlived several young-generation collections, were copied by each and promoted, and the
 * scavenges came to about 12% of the ingest's CPU (BENCHMARKS "Where the garbage collector's time
 * goes"). Copied as they arrive, the client's objects die young; what outlives a collection is the
 * archive's compact form, which is also what a batch keeps for isolating a refused message.
 *
 * A batch is handed on when it holds `maxSize` records, when their keys and values reach
 * `maxBytes` (so it passes maxBytes by less than its last record), or `maxWaitMs` after the reader
 * asked for it and it had a first record, whichever comes first. While the reader is busy with
 * earlier batches, at most `readAhead` records are copied ahead; reading the source then pauses,
 * and so does the client's fetching. An idle stream yields nothing and costs nothing.
 */
import { RecordArchive } from '../kafka/record-archive.ts'
import type { ConsumedMessage } from '../kafka/records.ts'

/** A partition's position to commit (the message's offset + 1), without the message's bytes. */
export type CommitPoint = Pick<ConsumedMessage, 'partition' | 'offset' | 'commit'>

export interface RecordBatch {
  /** the batch's records in arrival order, copied out of their fetch responses */
  readonly records: RecordArchive
  /** the position of the batch's last record in each partition: what gets committed */
  readonly commits: readonly CommitPoint[]
}

export interface RecordBatchOptions {
  readonly maxSize: number
  readonly maxWaitMs: number
  /** bound on the bytes of keys and values in a batch (default: none) */
  readonly maxBytes?: number
  /** records copied ahead while the reader is busy (default and at most: maxSize; at least 1) */
  readonly readAhead?: number
}

class OpenBatch {
  readonly records = new RecordArchive()
  // Updated in place: one entry per partition, not an object per record.
  readonly #commits = new Map<number, { partition: number; offset: bigint; commit: () => Promise<void> }>()

  add(message: ConsumedMessage): void {
    this.records.add(message)
    const last = this.#commits.get(message.partition)
    if (last === undefined) {
      this.#commits.set(message.partition, {
        partition: message.partition,
        offset: message.offset,
        commit: message.commit,
      })
    } else if (message.offset > last.offset) {
      last.offset = message.offset
      last.commit = message.commit
    }
  }

  finish(): RecordBatch {
    return { records: this.records, commits: [...this.#commits.values()] }
  }
}

/**
 * Batches of `source`'s records (see the module's comment). An error of the source is thrown to
 * the reader in place of the batch being filled, whose records are dropped (their offsets are not
 * committed, so they come again); batches handed on before stay handed on. When the reader stops
 * (break, return), a source that is waiting for its next record is abandoned, not awaited: a
 * quiet topic would hold the reader up for ever.
 */
export async function* recordBatches(
  source: AsyncIterable<ConsumedMessage>,
  options: RecordBatchOptions,
): AsyncGenerator<RecordBatch> {
  if (!(options.maxSize >= 1)) throw new RangeError(`maxSize must be at least 1, not ${options.maxSize}`)
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
  // At least one record ahead: with none, the pump would wait for a reader that waits for it.
  const readAhead = Math.max(1, Math.min(options.readAhead ?? options.maxSize, options.maxSize) || 1)
  let open = new OpenBatch()
  let ended = false
  let failure: { error: unknown } | undefined
  let stopped = false
  let readerAsking = false
  let wakeReader: (() => void) | undefined
  let wakePump: (() => void) | undefined
  const full = () => open.records.length >= options.maxSize || open.records.bytes >= maxBytes
  const room = () => !full() && (readerAsking || open.records.length < readAhead)
  const wake = (waiter: (() => void) | undefined) => waiter?.()
  // Set by the pump, read here after awaits (a function, so the checks are not narrowed away).
  const throwIfFailed = () => {
    if (failure) throw failure.error
  }

  // Reads the source as fast as it delivers, as long as there is room.
  void (async () => {
    try {
      for await (const message of source) {
        if (stopped) break
        open.add(message)
        // The reader waits for a first record, a full batch, its timer or the end; not for each record.
        if (open.records.length === 1 || full()) wake(wakeReader)
        while (!room() && !stopped) {
          await new Promise<void>((resolve) => {
            wakePump = resolve
          })
        }
        if (stopped) break
      }
    } catch (error) {
      failure = { error }
    } finally {
      ended = true
      wake(wakeReader)
    }
  })()

  const readerWaits = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms)
      wakeReader = () => {
        clearTimeout(timer)
        resolve()
      }
    }).finally(() => {
      wakeReader = undefined
    })

  try {
    while (true) {
      while (open.records.length === 0 && !ended) await readerWaits()
      throwIfFailed()
      if (open.records.length === 0) return
      readerAsking = true
      wake(wakePump)
      const deadline = performance.now() + options.maxWaitMs
      while (!full() && !ended) {
        const left = deadline - performance.now()
        if (left <= 0) break
        await readerWaits(left)
      }
      readerAsking = false
      throwIfFailed()
      const batch = open
      open = new OpenBatch()
      wake(wakePump)
      yield batch.finish()
    }
  } finally {
    stopped = true
    wake(wakePump)
  }
}
