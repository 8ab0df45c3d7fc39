/**
 * Producing raw bytes: the dead-letter topic and the produce command. Sends are split into
 * requests the broker takes, in order, and each partition's messages go in a request of their own.
 * Every write waits for all in-sync replicas (acks=all): with the service's topics on three
 * brokers (min.insync.replicas=2, replication.ts) an acknowledged message is on two of them.
 */
import { ProduceAcks, Producer } from '@platformatic/kafka'
import { partitionRuns } from './partitions.ts'
import type { KafkaConnection, OutgoingMessage } from './records.ts'

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
  const roundRobin = new Map<string, number>()
  return {
    async send(messages) {
      // One request after the other keeps each key's messages in order.
      for (const chunk of splitBySize(messages)) {
        // The client groups a send's partitions by their leader and, when it retries the group,
        // sends all of it to the leader of the first one's partition: once a broker is lost and its
        // partitions get different leaders, the others fail (NOT_LEADER_OR_FOLLOWER) on every retry
        // until the leaders move back (minutes). One send per partition is always retried right.
        // (Its metadata is cached: this asks the brokers at most every few seconds.)
        const topics = [...new Set(chunk.map((m) => m.topic))]
        const metadata = await producer.metadata({ topics })
        const runs = partitionRuns(chunk, (topic) => metadata.topics.get(topic)?.partitionsCount ?? 1, roundRobin)
        const sent = await Promise.allSettled(
          runs.map((run) =>
            producer.send({
              messages: run.messages.map((m) => ({
                topic: m.topic,
                partition: run.partition,
                key: m.key ?? undefined,
                // The client writes null as Kafka's null value (a tombstone); its types only say Buffer.
                value: m.value as Buffer,
                // A Map keyed by Buffer objects keeps repeated header names apart; null values stay null.
                headers: m.headers ? new Map(m.headers.map((h) => [h.key, h.value] as [Buffer, Buffer])) : undefined,
              })),
            }),
          ),
        )
        // Every send has ended (none left in flight behind the caller's back) before one's error is thrown.
        const failed = sent.find((result) => result.status === 'rejected')
        if (failed) throw failed.reason
      }
    },
    async close() {
      if (closed) return
      closed = true
      await producer.close()
    },
  }
}
