/**
 * What a Kafka cluster says of itself: its live brokers, where each partition's replicas are and
 * which are in sync, a topic's settings, which broker coordinates a consumer group. Read by the
 * stack's checks and the cluster's chaos scenarios; the service itself only counts brokers
 * (ensureTopics).
 */
import { Admin, ConfigResourceTypes, FindCoordinatorKeyTypes } from '@platformatic/kafka'
import type { KafkaConnection } from './records.ts'

export interface PartitionReplicas {
  readonly partition: number
  /** node id of the leader, -1 when there is none */
  readonly leader: number
  readonly replicas: readonly number[]
  /** the replicas in sync with the leader (the leader included) */
  readonly isr: readonly number[]
}

function adminOf(connection: KafkaConnection): Admin {
  return new Admin({
    clientId: `${connection.clientId}-admin`,
    bootstrapBrokers: [...connection.brokers],
    // a broker of the list may be dead: the next one is asked instead of waiting long on it
    timeout: 5000,
  })
}

/** Node ids of the brokers the cluster's metadata names (a fenced or dead broker is absent). */
export async function liveBrokers(connection: KafkaConnection): Promise<number[]> {
  const admin = adminOf(connection)
  try {
    const metadata = await admin.metadata({ topics: [], forceUpdate: true })
    return [...metadata.brokers.keys()].sort((a, b) => a - b)
  } finally {
    await admin.close()
  }
}

/** The replicas of every partition of `topic`, by partition (rejects when the topic is unknown). */
export async function describeReplicas(connection: KafkaConnection, topic: string): Promise<PartitionReplicas[]> {
  const admin = adminOf(connection)
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    return (metadata.topics.get(topic)?.partitions ?? []).map((p, partition) => ({
      partition,
      leader: p.leader,
      replicas: [...p.replicas],
      isr: [...p.isr],
    }))
  } finally {
    await admin.close()
  }
}

/** The values of `names` among a topic's settings (its own or the broker's default). */
export async function topicSettings(
  connection: KafkaConnection,
  topic: string,
  names: readonly string[],
): Promise<Record<string, string | null>> {
  const admin = adminOf(connection)
  try {
    const described = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [...names] }],
    })
    const settings: Record<string, string | null> = {}
    for (const config of described[0]?.configs ?? []) settings[config.name] = config.value ?? null
    return settings
  } finally {
    await admin.close()
  }
}

/** Node id of the broker that coordinates consumer group `groupId` now. */
export async function groupCoordinator(connection: KafkaConnection, groupId: string): Promise<number> {
  const admin = adminOf(connection)
  try {
    const [found] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] })
    if (found === undefined) throw new Error(`no coordinator found for group ${groupId}`)
    return found.nodeId
  } finally {
    await admin.close()
  }
}
