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
}

export interface OutgoingMessage {
  readonly topic: string
  readonly key?: Buffer | undefined
  readonly value: Buffer
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export interface ConsumedMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: Buffer | undefined
  readonly value: Buffer
  readonly headers: ReadonlyMap<string, string>
  /** Commits this message's offset + 1 for its partition (the next one to read). */
  commit(): Promise<void>
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
        await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: 1 })
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
    let size = RECORD_OVERHEAD_BYTES + message.value.length + (message.key?.length ?? 0)
    for (const [key, value] of Object.entries(message.headers ?? {})) size += key.length + value.length + 8
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
  })
  let closed = false
  return {
    async send(messages) {
      // One request after the other keeps each key's messages in order.
      for (const chunk of splitBySize(messages)) {
        await producer.send({
          messages: chunk.map((m) => ({
            topic: m.topic,
            key: m.key,
            value: m.value,
            headers: m.headers
              ? new Map(Object.entries(m.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]))
              : undefined,
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

function toConsumedMessage(message: Message): ConsumedMessage {
  const headers = new Map<string, string>()
  for (const [key, value] of message.headers) headers.set(key.toString(), value.toString())
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key && message.key.length > 0 ? message.key : undefined,
    value: message.value ?? Buffer.alloc(0),
    headers,
    commit: () => Promise.resolve(message.commit()),
  }
}
