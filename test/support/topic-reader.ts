/**
 * Reads every record a topic holds right now, for tests and the chaos suite: the end offsets are
 * taken first, then a consumer of a group of its own reads until each partition reached its end.
 */
import {
  type ConsumedMessage,
  createGroupConsumer,
  endOffsets,
  type KafkaConnection,
  lastHeader,
} from '../../src/kafka/client.ts'
import { uniqueName } from '../helpers.ts'

export async function readTopic(connection: KafkaConnection, topic: string): Promise<ConsumedMessage[]> {
  const ends = await endOffsets(connection, topic)
  const remaining = new Set([...ends].filter(([, end]) => end > 0n).map(([partition]) => partition))
  const records: ConsumedMessage[] = []
  if (remaining.size === 0) return records
  const consumer = await createGroupConsumer(connection, { groupId: uniqueName('topic-reader'), topics: [topic] })
  try {
    for await (const record of consumer.messages) {
      records.push(record)
      if (record.offset + 1n >= (ends.get(record.partition) ?? 0n)) remaining.delete(record.partition)
      if (remaining.size === 0) break
    }
  } finally {
    await consumer.close()
  }
  return records
}

/** A dead letter as tests look at it. */
export interface DeadLetterSeen {
  readonly record: ConsumedMessage
  readonly reason: string | undefined
  readonly sqlstate: string | undefined
  /** 'partition/offset' of the message in the source topic */
  readonly source: string
}

/** Every dead letter of a dead-letter topic, one per source message (a resend is dropped). */
export async function readDeadLetters(connection: KafkaConnection, dlqTopic: string): Promise<DeadLetterSeen[]> {
  const bySource = new Map<string, DeadLetterSeen>()
  for (const record of await readTopic(connection, dlqTopic)) {
    const source = `${lastHeader(record.headers, 'x-rsvp-topk-source-partition')}/${lastHeader(record.headers, 'x-rsvp-topk-source-offset')}`
    bySource.set(source, {
      record,
      reason: lastHeader(record.headers, 'x-rsvp-topk-reason'),
      sqlstate: lastHeader(record.headers, 'x-rsvp-topk-sqlstate'),
      source,
    })
  }
  return [...bySource.values()]
}
