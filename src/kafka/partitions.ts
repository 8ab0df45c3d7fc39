/**
 * The partition of each outgoing message, chosen before the send exactly as the Kafka client
 * would choose it: its default partitioner for a keyed message (murmur2 of the key as an unsigned
 * 32-bit number, modulo the topic's partitions), round robin per topic for a message without a
 * key. The producer sends each partition's run in a request of its own (producer.ts says why).
 */
import { murmur2 } from '@platformatic/kafka'
import type { OutgoingMessage } from './records.ts'

/** One partition's messages of a send, in the order they were given. */
export interface PartitionRun {
  readonly topic: string
  readonly partition: number
  readonly messages: OutgoingMessage[]
}

/** The client's defaultPartitioner before its modulo (clients/producer/partitioners.js). */
export function keyHash(key: Buffer): number {
  return murmur2(key) >>> 0
}

/**
 * Splits messages into runs per topic and partition, each keeping the given order.
 * `partitionsOf` gives a topic's partition count; `roundRobin` holds the next partition of each
 * topic for messages without a key, and is advanced.
 */
export function partitionRuns(
  messages: readonly OutgoingMessage[],
  partitionsOf: (topic: string) => number,
  roundRobin: Map<string, number>,
): PartitionRun[] {
  const runs = new Map<string, PartitionRun>()
  for (const message of messages) {
    const count = Math.max(1, partitionsOf(message.topic))
    let partition: number
    if (message.key !== null && message.key !== undefined) {
      partition = keyHash(message.key) % count
    } else {
      const next = roundRobin.get(message.topic) ?? 0
      roundRobin.set(message.topic, next + 1)
      partition = next % count
    }
    const id = `${partition}\u0000${message.topic}`
    let run = runs.get(id)
    if (run === undefined) {
      run = { topic: message.topic, partition, messages: [] }
      runs.set(id, run)
    }
    run.messages.push(message)
  }
  return [...runs.values()]
}
