/** Types for cluster-key-slot 1.1.1 (it ships none): the hash slot function ioredis routes by. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0 to 16383) of a key: CRC16 of the key, or of its {hash tag}. */
  function calculateSlot(key: string | Buffer): number
  export = calculateSlot
}
