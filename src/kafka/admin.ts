/**
 * Topics: create, delete, describe, and read their end offsets, with the admin client.
 */
import { Admin } from '@platformatic/kafka'
import { AppError, ErrorCodes, isAppError } from '../errors.ts'
import { brokerErrors, topicRefusal } from './broker-errors.ts'
import type { KafkaConnection } from './records.ts'
import { type TopicReplication, topicReplication } from './replication.ts'

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  /** topic-level configuration, e.g. { 'max.message.bytes': '8388608' } */
  readonly configs?: Readonly<Record<string, string>>
}

/**
 * Creates the topics that do not exist yet; existing topics are left as they are. New topics get
 * `connection.replicationFactor` replicas, or min(3, brokers the metadata names), and with 3
 * replicas min.insync.replicas=2 (replication.ts); a topic's own `configs` go on top.
 * Errors: CONFIG_INVALID when the broker refuses for good (a colliding or invalid name, settings,
 * rights: broker-errors.ts), DEPENDENCY_FAILED (retryable) for the rest.
 */
export async function ensureTopics(connection: KafkaConnection, topics: readonly TopicSpec[]): Promise<string[]> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const existing = new Set(await admin.listTopics())
    const created: string[] = []
    let replication: TopicReplication | undefined
    for (const topic of topics) {
      if (existing.has(topic.name)) continue
      if (replication === undefined) {
        // Fenced (dead) brokers are not in the metadata: the count is of the live ones.
        const { brokers } = await admin.metadata({ topics: [], forceUpdate: true })
        replication = topicReplication(connection.replicationFactor, brokers.size, connection.brokers.join(','))
      }
      try {
        await admin.createTopics({
          topics: [topic.name],
          partitions: topic.partitions,
          replicas: replication.factor,
          configs: Object.entries({ ...replication.configs, ...topic.configs }).map(([name, value]) => ({
            name,
            value,
          })),
        })
        created.push(topic.name)
      } catch (error) {
        // A name, a setting or a right the broker refuses is the set-up's to fix: say which, rather
        // than retry forever.
        const refusal = topicRefusal(error)
        if (refusal !== undefined) {
          throw new AppError(ErrorCodes.CONFIG_INVALID, `Kafka refused to create the topic ${topic.name}: ${refusal}`, {
            cause: error,
          })
        }
        // Another process may have made it between our list and our create.
        const exists = brokerErrors(error).some(({ code }) => code === 'TOPIC_ALREADY_EXISTS')
        if (!exists && !/already exists/i.test(String(error))) throw error
      }
    }
    await waitForLeaders(
      admin,
      topics.map((t) => t.name),
    )
    return created
  } catch (error) {
    // A factor the cluster cannot hold, or a topic the broker refuses: no retry mends it.
    if (isAppError(error, ErrorCodes.CONFIG_INVALID)) throw error
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

/** A consumer group's position on one partition of a topic. */
export interface PartitionPosition {
  /** messages after the group's committed offset (from 0 when it has never committed) */
  readonly lag: number
  readonly committed: number
}

/**
 * Where a consumer group stands on each partition of a topic, from the broker's view rather
 * than a member's: it shows partitions nobody consumes, which no member's own lag does.
 */
export async function groupPosition(
  connection: KafkaConnection,
  groupId: string,
  topic: string,
): Promise<Map<number, PartitionPosition>> {
  const ends = await endOffsets(connection, topic)
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const groups = await admin.listConsumerGroupOffsets({ groups: [groupId] })
    const committed = new Map<number, bigint>()
    for (const entry of groups[0]?.topics ?? []) {
      if (entry.name !== topic) continue
      for (const partition of entry.partitions) {
        if (partition.committedOffset >= 0n) committed.set(partition.partitionIndex, partition.committedOffset)
      }
    }
    const positions = new Map<number, PartitionPosition>()
    for (const [partition, end] of ends) {
      const at = committed.get(partition) ?? 0n
      positions.set(partition, { lag: end > at ? Number(end - at) : 0, committed: Number(at) })
    }
    return positions
  } finally {
    await admin.close()
  }
}

/** A topic's partitions that no member of a stable consumer group owns. */
export interface GroupCoverage {
  /** the group is stable (not rebalancing, not empty): its assignment is settled */
  readonly stable: boolean
  readonly partitions: number
  /** partitions of the topic in no member's assignment, ascending */
  readonly unowned: readonly number[]
}

/**
 * Which partitions of `topic` the group's members own, from the broker's view (DescribeGroups
 * with the members' assignments, and fresh metadata). Partitions added to a topic are owned by
 * nobody until the group rebalances, which the Kafka client does not start by itself.
 */
export async function groupCoverage(
  connection: KafkaConnection,
  groupId: string,
  topic: string,
): Promise<GroupCoverage> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0
    const groups = await admin.describeGroups({ groups: [groupId] })
    const group = groups.get(groupId)
    const owned: number[] = []
    for (const member of group?.members.values() ?? [])
      owned.push(...(member.assignments?.get(topic)?.partitions ?? []))
    return { stable: group?.state === 'Stable', partitions, unowned: unownedPartitions(partitions, owned) }
  } finally {
    await admin.close()
  }
}

/** The partitions 0 … count-1 that are not in `owned`, ascending. */
export function unownedPartitions(count: number, owned: Iterable<number>): number[] {
  const ownedSet = new Set(owned)
  const unowned: number[] = []
  for (let partition = 0; partition < count; partition++) if (!ownedSet.has(partition)) unowned.push(partition)
  return unowned
}

/** Grows `topic` to `count` partitions (Kafka cannot shrink a topic), waiting for their leaders. */
export async function addPartitions(connection: KafkaConnection, topic: string, count: number): Promise<void> {
  const admin = new Admin({ clientId: `${connection.clientId}-admin`, bootstrapBrokers: [...connection.brokers] })
  try {
    await admin.createPartitions({ topics: [{ name: topic, count }] })
    await waitForLeaders(admin, [topic])
  } finally {
    await admin.close()
  }
}
