/**
 * The broker's answers inside the Kafka client's errors. The client nests them (an AggregateError
 * per operation, one per response, one ProtocolError per refused item, and `cause` links); each
 * ProtocolError names Kafka's error code (`apiId`, e.g. INVALID_TOPIC_EXCEPTION) and may carry the
 * broker's own message (`serverErrorMessage`).
 */

/** One error code the broker answered with, and its message when it sent one. */
export interface BrokerError {
  readonly code: string
  readonly message: string | undefined
}

/** Every broker answer nested in `error`, in the order found; none for an error of our own or the network's. */
export function brokerErrors(error: unknown): BrokerError[] {
  const found: BrokerError[] = []
  const seen = new Set<unknown>()
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return
    seen.add(value)
    const { apiId, serverErrorMessage, errors, cause } = value as {
      apiId?: unknown
      serverErrorMessage?: unknown
      errors?: unknown
      cause?: unknown
    }
    if (typeof apiId === 'string') {
      found.push({ code: apiId, message: typeof serverErrorMessage === 'string' ? serverErrorMessage : undefined })
    }
    if (Array.isArray(errors)) errors.forEach(walk)
    walk(cause)
  }
  walk(error)
  return found
}

// Kafka's error codes for a record (batch) over the topic's max.message.bytes.
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])

/** Whether a send failed because the broker refused a record as too large for the topic: no retry can change that. */
export function isRecordTooLarge(error: unknown): boolean {
  return brokerErrors(error).some(({ code }) => TOO_LARGE.has(code))
}

// Kafka's answers to CreateTopics that no retry changes: the name, the settings or the rights are
// the set-up's to fix. Not INVALID_REPLICATION_FACTOR: ensureTopics sizes the factor by the live
// brokers, so that answer means one went away since (a rolling restart), which passes.
const TOPIC_REFUSALS = new Set([
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
])

/**
 * Why the broker refused to create a topic for good, as one line naming each code and the
 * broker's message (e.g. "INVALID_TOPIC_EXCEPTION: Topic 'a.b' collides with existing topics:
 * a_b"), or undefined when the failure may pass (an outage, a leader election).
 */
export function topicRefusal(error: unknown): string | undefined {
  const refusals = brokerErrors(error).filter(({ code }) => TOPIC_REFUSALS.has(code))
  if (refusals.length === 0) return undefined
  return [...new Set(refusals.map(({ code, message }) => (message ? `${code}: ${message}` : code)))].join('; ')
}
