/**
 * Dead letters: the copy of a message the service sets aside, with why and where it came from.
 * The design is Kafka Connect's (errors.deadletterqueue.context.headers.enable): the original
 * key, value and headers untouched, then context headers appended after them. Readers take the
 * last header of a name (Java's `Headers.lastHeader`), so ours win over a same-named original.
 */
import { createHash } from 'node:crypto'
import type { KafkaRecord, OutgoingMessage, RecordHeader } from '../kafka/client.ts'

/** The context headers of a dead letter. */
export const DeadLetterHeaders = {
  REASON: 'x-rsvp-topk-reason',
  SOURCE_TOPIC: 'x-rsvp-topk-source-topic',
  SOURCE_PARTITION: 'x-rsvp-topk-source-partition',
  SOURCE_OFFSET: 'x-rsvp-topk-source-offset',
  /** the SQLSTATE, when PostgreSQL refused the message */
  SQLSTATE: 'x-rsvp-topk-sqlstate',
  /** present on a truncated copy: "true" */
  TRUNCATED: 'x-rsvp-topk-truncated',
  ORIGINAL_VALUE_BYTES: 'x-rsvp-topk-original-value-bytes',
  ORIGINAL_VALUE_SHA256: 'x-rsvp-topk-original-value-sha256',
  ORIGINAL_KEY_BYTES: 'x-rsvp-topk-original-key-bytes',
  ORIGINAL_KEY_SHA256: 'x-rsvp-topk-original-key-sha256',
  /** how many original headers a truncated copy left out (they did not fit) */
  ORIGINAL_HEADERS_DROPPED: 'x-rsvp-topk-original-headers-dropped',
} as const

/** A truncated copy keeps at most this much of the value: enough to see what the message was. */
export const TRUNCATED_VALUE_BYTES = 64 * 1024
/** … of the key */
export const TRUNCATED_KEY_BYTES = 1024
/** … and the original headers only while they take no more than this in all. */
export const TRUNCATED_HEADERS_BYTES = 16 * 1024

/** A message set aside, and why. */
export interface DeadLetter {
  readonly source: KafkaRecord
  readonly reason: string
  /** SQLSTATE of a database refusal */
  readonly sqlstate?: string | undefined
}

function contextHeaders(letter: DeadLetter): RecordHeader[] {
  const pairs: [string, string][] = [
    [DeadLetterHeaders.REASON, letter.reason],
    [DeadLetterHeaders.SOURCE_TOPIC, letter.source.topic],
    [DeadLetterHeaders.SOURCE_PARTITION, String(letter.source.partition)],
    [DeadLetterHeaders.SOURCE_OFFSET, letter.source.offset.toString()],
  ]
  if (letter.sqlstate !== undefined) pairs.push([DeadLetterHeaders.SQLSTATE, letter.sqlstate])
  return pairs.map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }))
}

/**
 * The whole dead letter: the original key, value (a null value stays null) and headers, byte for
 * byte, followed by the context headers.
 */
export function deadLetterRecord(letter: DeadLetter, dlqTopic: string): OutgoingMessage {
  const { source } = letter
  return {
    topic: dlqTopic,
    key: source.key,
    value: source.value,
    headers: [...source.headers, ...contextHeaders(letter)],
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * The copy sent when the whole dead letter is too large for the dead-letter topic even
 * compressed: the first TRUNCATED_VALUE_BYTES of the value and TRUNCATED_KEY_BYTES of the key,
 * the original headers when they are small, and headers giving the original sizes and SHA-256
 * digests so the original can be recognised where it is kept (the source topic, a capture).
 */
export function truncatedDeadLetterRecord(letter: DeadLetter, dlqTopic: string): OutgoingMessage {
  const { source } = letter
  const headers: RecordHeader[] = []
  let headerBytes = 0
  for (const header of source.headers) headerBytes += (header.key?.length ?? 0) + (header.value?.length ?? 0)
  const keepHeaders = headerBytes <= TRUNCATED_HEADERS_BYTES
  if (keepHeaders) headers.push(...source.headers)
  headers.push(...contextHeaders(letter))
  const add = (key: string, value: string) => headers.push({ key: Buffer.from(key), value: Buffer.from(value) })
  add(DeadLetterHeaders.TRUNCATED, 'true')
  if (source.value !== null) {
    add(DeadLetterHeaders.ORIGINAL_VALUE_BYTES, String(source.value.length))
    add(DeadLetterHeaders.ORIGINAL_VALUE_SHA256, sha256(source.value))
  }
  let key = source.key
  if (key !== null && key.length > TRUNCATED_KEY_BYTES) {
    add(DeadLetterHeaders.ORIGINAL_KEY_BYTES, String(key.length))
    add(DeadLetterHeaders.ORIGINAL_KEY_SHA256, sha256(key))
    key = key.subarray(0, TRUNCATED_KEY_BYTES)
  }
  if (!keepHeaders) add(DeadLetterHeaders.ORIGINAL_HEADERS_DROPPED, String(source.headers.length))
  return {
    topic: dlqTopic,
    key,
    value: source.value === null ? null : source.value.subarray(0, TRUNCATED_VALUE_BYTES),
    headers,
  }
}
