/**
 * How many replicas the topics the service creates get (KAFKA_REPLICATION_FACTOR), decided from
 * the brokers the cluster's metadata names. Pure: ensureTopics (admin.ts) asks the cluster.
 */
import { AppError, ErrorCodes } from '../errors.ts'

/** Three copies survive the loss of any one broker while still taking writes (two in sync). */
export const MAX_DEFAULT_REPLICATION_FACTOR = 3

/** The factor when none is configured: min(3, brokers), and at least 1. */
export function defaultReplicationFactor(brokerCount: number): number {
  return Math.max(1, Math.min(MAX_DEFAULT_REPLICATION_FACTOR, brokerCount))
}

export interface TopicReplication {
  readonly factor: number
  /** topic-level settings that go with the factor */
  readonly configs: Readonly<Record<string, string>>
}

/**
 * The replication of a new topic: the configured factor, or the default for `brokerCount`. With 3
 * replicas a write needs 2 of them in sync (min.insync.replicas=2): with acks=all an acknowledged
 * write is on two brokers, and one broker may be down without stopping writes. A factor larger
 * than the brokers seen is a set-up error (Kafka would refuse the topic with a less clear
 * message): AppError(RSVP_CONFIG_INVALID).
 */
export function topicReplication(configured: number | undefined, brokerCount: number, brokers = ''): TopicReplication {
  if (configured !== undefined && configured > brokerCount) {
    const where = brokers === '' ? 'the Kafka cluster' : `the Kafka cluster at ${brokers}`
    throw new AppError(
      ErrorCodes.CONFIG_INVALID,
      `KAFKA_REPLICATION_FACTOR is ${configured}, but ${where} has ${brokerCount} live broker${brokerCount === 1 ? '' : 's'}: ` +
        `a topic cannot have more replicas than brokers (set it to at most ${brokerCount}, or unset it for min(3, brokers))`,
      { replicationFactor: configured, brokerCount },
    )
  }
  const factor = configured ?? defaultReplicationFactor(brokerCount)
  return { factor, configs: factor === 3 ? { 'min.insync.replicas': '2' } : {} }
}
