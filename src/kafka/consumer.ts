/**
 * Consuming a group's partitions with manual commits, from the committed offsets.
 */
import { Consumer, type Message, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka'
import type { ConsumedMessage, KafkaConnection, RecordHeader } from './records.ts'

const FETCH_MAX_BYTES = 4 * 2 ** 20
const FETCH_MAX_BYTES_PER_PARTITION = 2 ** 20
/** After the signal aborts, a join still under way gets this long to end (givenUpOnAbort). */
const JOIN_ABORT_GRACE_MS = 2000

export interface GroupConsumerOptions {
  readonly groupId: string
  readonly topics: readonly string[]
  readonly sessionTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  /** How long a fetch waits on the broker for data; bounds how long close() can take. */
  readonly maxWaitMs?: number
  /** Messages fetched ahead of the reader, so fetching goes on while a batch is in the database. */
  readonly bufferedMessages?: number
  /**
   * Told when the client fails in the background before close(): a rejoin after a rebalance
   * that failed, so this member may no longer be in the group and its commits may fail.
   */
  readonly onBackgroundError?: (error: unknown) => void
  /**
   * Aborting it while the group is being joined gives up the join: createGroupConsumer rejects
   * with the signal's reason unless the join ends within 2 s, and the client is closed in the
   * background. A join waits on the group's rebalance, which waits for every member to rejoin or
   * to time out (a member that died holds it up for its whole session timeout), so a stop must
   * not wait on it.
   */
  readonly signal?: AbortSignal
}

export interface GroupConsumer {
  /** Messages of the partitions this member owns, from the group's committed offsets (earliest when none). */
  readonly messages: AsyncIterable<ConsumedMessage>
  /** Uncommitted messages per partition this member owns (partitions it does not own are absent). */
  lag(): Promise<Map<number, number>>
  /** Leaves the group. Uncommitted messages will be delivered again to whoever owns their partition next. */
  close(): Promise<void>
}

export async function createGroupConsumer(
  connection: KafkaConnection,
  options: GroupConsumerOptions,
): Promise<GroupConsumer> {
  const consumer = new Consumer({
    clientId: `${connection.clientId}-consumer`,
    bootstrapBrokers: [...connection.brokers],
    groupId: options.groupId,
    autocommit: false,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: options.heartbeatIntervalMs ?? 1000,
    maxWaitTime: options.maxWaitMs ?? 500,
    highWaterMark: options.bufferedMessages ?? 1024,
    // The client decodes a fetch response through a list of its network chunks, and a read there
    // costs more the more chunks there are: the default 50 MB responses made decoding about 5x
    // slower per message (and held hundreds of MB) than responses of a few MB.
    maxBytes: FETCH_MAX_BYTES,
    maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
  })
  let closed = false
  // The client emits 'error' when a rejoin it started on its own (a heartbeat saw a rebalance)
  // fails, closing included: its connections close under the pending JoinGroup. An 'error'
  // event with no listener would end the process.
  consumer.on('error', (error: unknown) => {
    if (!closed) options.onBackgroundError?.(error)
  })
  let stream: Awaited<ReturnType<typeof consumer.consume>>
  const joining = consumer.consume({
    topics: [...options.topics],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
  })
  try {
    stream =
      options.signal === undefined ? await joining : await givenUpOnAbort(joining, options.signal, JOIN_ABORT_GRACE_MS)
  } catch (error) {
    // Otherwise its connections (and perhaps its group membership) outlive the failed attempt.
    closed = true
    if (options.signal?.aborted) {
      // The join may still be pending: closing under it ends it, and must not hold up the caller.
      joining.catch(() => {})
      consumer.close(true).catch(() => closeInBackground(consumer))
    } else {
      await consumer.close(true).catch(() => closeInBackground(consumer))
    }
    throw error
  }
  return {
    messages: toConsumedMessages(stream),
    async lag() {
      const lags = new Map<number, number>()
      for (const topic of options.topics) {
        const perPartition = (await consumer.getLag({ topics: [topic] })).get(topic) ?? []
        perPartition.forEach((lag, partition) => {
          if (lag >= 0n) lags.set(partition, Number(lag))
        })
      }
      return lags
    },
    async close() {
      if (closed) return
      closed = true
      try {
        await consumer.close(true)
      } catch (error) {
        // The client stays a live group member when leaving fails (the broker is away): it would
        // rejoin when the broker is back and hold partitions nobody reads. Keep closing it until
        // it is gone, without holding up the caller.
        closeInBackground(consumer)
        throw error
      }
    },
  }
}

/**
 * Settles as `pending` does, or rejects with the signal's reason `graceMs` after it aborts,
 * whichever is first: a join about to end still ends, and its member can leave the group properly
 * (the client sends no LeaveGroup for a member whose join it gave up), while one held up by a
 * rebalance is given up.
 */
function givenUpOnAbort<T>(pending: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const abort = () => {
      timer = setTimeout(() => reject(signal.reason), graceMs)
    }
    if (signal.aborted) abort()
    else signal.addEventListener('abort', abort, { once: true })
    pending.then(resolve, reject).finally(() => {
      clearTimeout(timer)
      signal.removeEventListener('abort', abort)
    })
  })
}

/** Retries a failed close every second or so until it goes through. */
function closeInBackground(consumer: Consumer): void {
  const retry = (delay: number) => {
    const timer = setTimeout(() => {
      consumer.close(true).catch(() => retry(Math.min(delay * 2, 5000)))
    }, delay)
    timer.unref()
  }
  retry(500)
}

async function* toConsumedMessages(stream: AsyncIterable<Message>): AsyncGenerator<ConsumedMessage> {
  for await (const message of stream) {
    yield toConsumedMessage(message)
  }
}

/**
 * Whatever the record holds, this cannot throw: the client hands null parts over as undefined
 * (its default deserializers pass bytes through), and every one of them is a legal record.
 */
function toConsumedMessage(message: Message): ConsumedMessage {
  const entries = message.headerEntries as ReadonlyArray<
    readonly [Buffer | null | undefined, Buffer | null | undefined]
  >
  const headers: RecordHeader[] = []
  for (const [key, value] of entries ?? []) headers.push({ key: asBytes(key), value: asBytes(value) })
  // The client's commit is bound to the record's position, not to its bytes: holding it (the
  // batch's last message per partition, until commit) keeps no fetch response alive.
  const commit = message.commit
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: asBytes(message.key),
    value: asBytes(message.value),
    headers,
    commit: () => Promise.resolve(commit()),
  }
}

/**
 * A record's key or value as bytes. The client's default deserializers pass Buffers through; this
 * makes sure of it, so that nothing downstream (the batch's archive copies every record as it
 * arrives) meets another type and fails the session over one record again and again.
 */
function asBytes(part: unknown): Buffer | null {
  if (part === null || part === undefined) return null
  if (Buffer.isBuffer(part)) return part
  if (part instanceof Uint8Array) return Buffer.from(part.buffer, part.byteOffset, part.byteLength)
  if (typeof part === 'string') return Buffer.from(part)
  try {
    return Buffer.from(String(part))
  } catch {
    return null // a value with no text form (a deserializer's object that refuses toString)
  }
}
