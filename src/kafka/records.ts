/**
 * Kafka records as the service sees them: plain Buffers for keys, values and headers, every
 * shape the protocol allows (null keys and values, null header values, repeated header keys).
 */

export interface KafkaConnection {
  readonly brokers: readonly string[]
  readonly clientId: string
  /** replicas of the topics ensureTopics creates; undefined: min(3, brokers in the cluster) */
  readonly replicationFactor?: number | undefined
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
export interface KafkaRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  /** null when the record has no key; an empty Buffer when the key is empty */
  readonly key: Buffer | null
  /** null for a tombstone; an empty Buffer when the value is empty */
  readonly value: Buffer | null
  readonly headers: readonly RecordHeader[]
}

/** A record as a consumer receives it, which can commit its offset. */
export interface ConsumedMessage extends KafkaRecord {
  /** Commits this message's offset + 1 for its partition (the next one to read). */
  commit(): Promise<void>
}

/**
 * A copy of a record that holds no part of the fetch response it came in: a consumed record's
 * key, value and headers are slices of a response of megabytes, all of it kept alive by one of
 * them. For records kept longer than their batch (dead letters).
 */
export function copyRecord(record: KafkaRecord): KafkaRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: copyBytes(record.key),
    value: copyBytes(record.value),
    headers: copyHeaders(record.headers),
  }
}

/** Copies of headers (keys and values alike) that hold no part of the buffers they came in. */
export function copyHeaders(headers: readonly RecordHeader[]): RecordHeader[] {
  return headers.map((h) => ({ key: copyBytes(h.key), value: copyBytes(h.value) }))
}

const copyBytes = (bytes: Buffer | null): Buffer | null => (bytes === null ? null : Buffer.from(bytes))

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
