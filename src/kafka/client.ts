/**
 * The Kafka adapter: the only place that imports the Kafka client library. It offers what the
 * service uses — make topics, produce raw bytes, consume a group's partitions with manual
 * commits — with plain Buffers for keys, values and headers, so callers see no client types.
 */
export * from './admin.ts'
export * from './broker-errors.ts'
export * from './cluster-state.ts'
export * from './consumer.ts'
export * from './producer.ts'
export * from './records.ts'
export * from './replication.ts'
