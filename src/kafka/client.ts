/**
 * The Kafka adapter: the only module that imports the Kafka client library. It offers what the
 * service uses — make topics, produce raw bytes, consume a group's partitions with manual commits —
 * with plain Buffers for keys, values and headers, so callers see no client types.
 */
import {
  Admin,
  Consumer,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka'
import { AppError, ErrorCodes } from '../errors.ts'

export interface KafkaConnection {
  readonly brokers: readonly string[]
  readonly clientId: string
}

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  /** topic-level configuration, e.g. { 'max.message.bytes': '8388608' } */
  readonly configs?: Readonly<Record<string, string>>
}

/**
 * One record header as Kafka carries it (KIP-82): a key and a nullable value, in order, keys may
 * repeat. Keys are strings by the protocol, but nothing stops a producer from writing any bytes,
 * so they stay bytes here; a null key only comes from a producer that breaks the protocol.
 */
export interface RecordHeader {
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export interface OutgoingMessage {
  readonly topic: string
  /** null or absent: no key (the partitioner spreads such records) */
  readonly key?: Buffer | null | undefined
  /** null: a tombstone */
  readonly value: Buffer | null
  /** sent in this order, repeats included */
  readonly headers?: readonly RecordHeader[] | undefined
}

/** Any record a broker can hold: null and empty keys and values, any headers. */
export interface ConsumedMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  /** null when the record has no key; an empty Buffer when the key is empty */
  readonly key: Buffer | null
  /** null for a tombstone; an empty Buffer when the value is empty */
  readonly value: Buffer | null
  readonly headers: readonly RecordHeader[]
  /** Commits this message's offset + 1 for its partition (the next one to read). */
  commit(): Promise<void>
}

/** Headers from text pairs, for the headers the service writes itself. */
export function textHeaders(pairs: Readonly<Record<string, string>>): RecordHeader[] {
  return Object.entries(pairs).map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }))
}

/**
 * The value of the last header named `name`, as UTF-8 text (the last, as Java's
 * `Headers.lastHeader` does: a header appended later overrides an earlier one of the same name).
 * undefined when there is none or its value is null.
 */
export function lastHeader(headers: readonly RecordHeader[], name: string): string | undefined {
  for (let i = headers.length - 1; i >= 0; i--) {
    const header = headers[i] as RecordHeader
    if (header.key !== null && header.key.toString('utf8') === name) return header.value?.toString('utf8')
  }
  return undefined
}

/** Creates the topics that do not exist yet; existing topics are left as they are. */
export async function ensureTopics(connection: KafkaConnection, topics: readonly TopicSpec[]): Promise<string[]> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const existing = new Set(await admin.listTopics())
    const created: string[] = []
    for (const topic of topics) {
      if (existing.has(topic.name)) continue
      try {
        await admin.createTopics({
          topics: [topic.name],
          partitions: topic.partitions,
          replicas: 1,
          configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })),
        })
        created.push(topic.name)
      } catch (error) {
        // Another process may have made it between our list and our create.
        if (!JSON.stringify(error).includes('TOPIC_ALREADY_EXISTS') && !/already exists/i.test(String(error))) {
          throw error
        }
      }
    }
    await waitForLeaders(
      admin,
      topics.map((t) => t.name),
    )
    return created
  } catch (error) {
    throw new AppError(ErrorCodes.DEPENDENCY_FAILED, `could not create Kafka topics: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
    })
  } finally {
    await admin.close()
  }
}

async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const metadata = await admin.metadata({ topics, forceUpdate: true })
    const ready = topics.every((name) => {
      const topic = metadata.topics.get(name)
      return topic?.partitions.every((p) => p.leader >= 0) === true
    })
    if (ready) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Deletes the topics that exist (others are skipped): benchmarks, demos and tests remove what they
 * made, so repeated runs do not fill the broker's disk.
 */
export async function deleteTopics(connection: KafkaConnection, topics: readonly string[]): Promise<void> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const existing = new Set(await admin.listTopics())
    const present = topics.filter((name) => existing.has(name))
    if (present.length > 0) await admin.deleteTopics({ topics: present })
  } finally {
    await admin.close()
  }
}

/** Partition count per topic, as the broker reports it. */
export async function describeTopics(
  connection: KafkaConnection,
  topics: readonly string[],
): Promise<Map<string, number>> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const metadata = await admin.metadata({ topics: [...topics], forceUpdate: true })
    return new Map([...metadata.topics].map(([name, topic]) => [name, topic.partitionsCount]))
  } finally {
    await admin.close()
  }
}

/** The log end offset (the offset the next record will get) of each partition of a topic. */
export async function endOffsets(connection: KafkaConnection, topic: string): Promise<Map<number, bigint>> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0
    // Timestamp -1 asks for the latest offset (ListOffsets' LATEST_TIMESTAMP).
    const listed = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, i) => ({ partitionIndex: i, timestamp: -1n })),
        },
      ],
    })
    const ends = new Map<number, bigint>()
    for (const partition of listed[0]?.partitions ?? []) ends.set(partition.partitionIndex, partition.offset)
    return ends
  } finally {
    await admin.close()
  }
}

// Brokers refuse a record batch over message.max.bytes (1 MiB by default): a send is split into
// requests well under that, so any partition's share of one request fits whatever the key spread.
const MAX_REQUEST_BYTES = 900 * 1024
// Kafka's per-record framing (lengths, offsets, timestamps, header counts), rounded up.
const RECORD_OVERHEAD_BYTES = 64

/** Splits messages, in order, into runs whose encoded size stays under MAX_REQUEST_BYTES. */
export function splitBySize(messages: readonly OutgoingMessage[], maxBytes = MAX_REQUEST_BYTES): OutgoingMessage[][] {
  const chunks: OutgoingMessage[][] = []
  let chunk: OutgoingMessage[] = []
  let bytes = 0
  for (const message of messages) {
    const size = recordSize(message)
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(message)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

/** An upper bound of the bytes a message takes in a record batch before compression. */
export function recordSize(message: OutgoingMessage): number {
  let size = RECORD_OVERHEAD_BYTES + (message.value?.length ?? 0) + (message.key?.length ?? 0)
  for (const header of message.headers ?? []) size += (header.key?.length ?? 0) + (header.value?.length ?? 0) + 10
  return size
}

export interface RawProducer {
  send(messages: readonly OutgoingMessage[]): Promise<void>
  close(): Promise<void>
}

export interface RawProducerOptions {
  /**
   * How often a failed send is retried, a second apart, before send() rejects. Unlimited by
   * default (what the client does for an idempotent producer anyway): send() then waits for
   * Kafka to come back, however long it takes, so a caller's own abort cannot cut it short.
   */
  readonly retries?: number
  /** Compression of the record batches (default none). The broker checks sizes after it. */
  readonly compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
}

export function createRawProducer(connection: KafkaConnection, options: RawProducerOptions = {}): RawProducer {
  const producer = new Producer({
    clientId: `${connection.clientId}-producer`,
    bootstrapBrokers: [...connection.brokers],
    acks: ProduceAcks.ALL,
    // Idempotence makes the broker drop the producer's own retried duplicates. The client then
    // retries without limit unless told a limit above 1.
    idempotent: true,
    retries: options.retries === undefined ? Number.MAX_SAFE_INTEGER : Math.max(options.retries, 2),
    retryDelay: 1000,
    ...(options.compression !== undefined && { compression: options.compression }),
  })
  let closed = false
  return {
    async send(messages) {
      // One request after the other keeps each key's messages in order.
      for (const chunk of splitBySize(messages)) {
        await producer.send({
          messages: chunk.map((m) => ({
            topic: m.topic,
            key: m.key ?? undefined,
            // The client writes null as Kafka's null value (a tombstone); its types only say Buffer.
            value: m.value as Buffer,
            // A Map keyed by Buffer objects keeps repeated header names apart; null values stay null.
            headers: m.headers ? new Map(m.headers.map((h) => [h.key, h.value] as [Buffer, Buffer])) : undefined,
          })),
        })
      }
    },
    async close() {
      if (closed) return
      closed = true
      await producer.close()
    },
  }
}

// Kafka's error codes for a record (batch) over the topic's max.message.bytes.
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])

/**
 * Whether a send failed because the broker refused a record as too large for the topic: no retry
 * can change that. The client nests the broker's answer in AggregateErrors; this walks them.
 */
export function isRecordTooLarge(error: unknown): boolean {
  const seen = new Set<unknown>()
  const walk = (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return false
    seen.add(value)
    const { apiId, errors, cause } = value as { apiId?: unknown; errors?: unknown; cause?: unknown }
    if (typeof apiId === 'string' && TOO_LARGE.has(apiId)) return true
    if (Array.isArray(errors) && errors.some(walk)) return true
    return walk(cause)
  }
  return walk(error)
}

const FETCH_MAX_BYTES = 4 * 2 ** 20
const FETCH_MAX_BYTES_PER_PARTITION = 2 ** 20

export interface GroupConsumerOptions {
  readonly groupId: string
  readonly topics: readonly string[]
  readonly sessionTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  /** How long a fetch waits on the broker for data; bounds how long close() can take. */
  readonly maxWaitMs?: number
  /** Messages fetched ahead of the reader, so fetching goes on while a batch is in the database. */
  readonly bufferedMessages?: number
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
  let stream: Awaited<ReturnType<typeof consumer.consume>>
  try {
    stream = await consumer.consume({
      topics: [...options.topics],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    })
  } catch (error) {
    // Otherwise its connections (and perhaps its group membership) outlive the failed attempt.
    await consumer.close(true).catch(() => {})
    throw error
  }
  let closed = false
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
      await consumer.close(true)
    },
  }
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
  for (const [key, value] of entries ?? []) headers.push({ key: key ?? null, value: value ?? null })
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: (message.key as Buffer | null | undefined) ?? null,
    value: (message.value as Buffer | null | undefined) ?? null,
    headers,
    commit: () => Promise.resolve(message.commit()),
  }
}
