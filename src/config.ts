/**
 * The one place that reads the environment. `loadConfig` validates every setting, reports every
 * problem at once, and returns a frozen, typed object. Secrets (the database URL, Redis passwords)
 * may come from `NAME_FILE` instead of `NAME`, and are non-enumerable so they never reach a log line.
 */
import { readFileSync } from 'node:fs'
import { AppError, ErrorCodes } from './errors.ts'

export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LogLevels)[number]

export interface RedisNodeConfig {
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  /** non-enumerable */
  readonly password: string | undefined
  /** host:port, for logs and metrics */
  readonly id: string
}

export interface Config {
  readonly kafka: {
    readonly brokers: readonly string[]
    readonly topic: string
    readonly dlqTopic: string
    readonly groupId: string
    readonly clientId: string
    readonly partitions: number
    /** replicas of the topics the service creates; undefined: min(3, brokers in the cluster) */
    readonly replicationFactor: number | undefined
    /** how long the group waits for a silent member before giving its partitions to others */
    readonly sessionTimeoutMs: number
  }
  readonly postgres: {
    /** non-enumerable: it holds the password */
    readonly url: string
    /** the URL without its password, for logs */
    readonly safeUrl: string
    /** host:port/database, no credentials: names the data set (cache keys use it) */
    readonly dataSet: string
    readonly poolSize: number
    /**
     * non-enumerable: a streaming replica of the same cluster (DATABASE_READ_URL) for the API's
     * reads, or undefined: everything reads the primary (README "Read replica")
     */
    readonly readUrl: string | undefined
    /** the replica's URL without its password, for logs; undefined without a replica */
    readonly readSafeUrl: string | undefined
    /** a replica further behind than this is not read from (the primary answers) */
    readonly replicaMaxLagSeconds: number
  }
  /** exactly one of `ring` and `cluster` has nodes (REDIS_RING or REDIS_CLUSTER) */
  readonly redis: {
    /** the nodes of the client-side ring (src/cache/ring.ts); empty with a Redis Cluster */
    readonly ring: readonly RedisNodeConfig[]
    /** seed nodes of a Redis Cluster (src/cache/cluster.ts), one user for all; empty with a ring */
    readonly cluster: readonly RedisNodeConfig[]
    readonly ttlSeconds: number
    /** JSON bytes of details entries each process keeps in front of the ring (0: none) */
    readonly localCacheBytes: number
    /** how long such an entry is used: bounds its staleness when a batch notice is lost */
    readonly localCacheTtlSeconds: number
  }
  readonly http: {
    readonly host: string
    readonly port: number
    readonly maxK: number
    /** how long a top-k answer is reused for the same query; 0 computes every request */
    readonly topkCacheMs: number
    /** the most bytes of reused top-k answers one process holds */
    readonly topkCacheMaxBytes: number
    /** with topkCacheMs 0: concurrent requests for one query share a computation begun after all arrived */
    readonly topkCoalesce: boolean
    /** the widest window a top-k query may span, in ms */
    readonly topkMaxWindowMs: number
    /** how long a request may take to arrive, in ms */
    readonly requestTimeoutMs: number
    /** connections open at once */
    readonly maxConnections: number
    /** live top-k streams (Server-Sent Events) open at once in one process */
    readonly topkStreamsMax: number
    /** distinct queries those streams may follow at once (each is computed on every change) */
    readonly topkStreamQueriesMax: number
  }
  readonly ingest: {
    readonly batchMaxMessages: number
    /** bytes of message keys and values per batch: with the batch count, what bounds memory */
    readonly batchMaxBytes: number
    readonly batchMaxWaitMs: number
    /** messages the consumer fetches ahead of the batch being filled (default: one batch's count) */
    readonly readAheadMessages: number
    /** how often the consumer lag, the group's progress and its coverage of the partitions are checked, in ms */
    readonly groupCheckMs: number
  }
  readonly readiness: {
    /** how long a dependency may keep failing before /readyz of ingest and serve reports it */
    readonly dependencyGraceMs: number
  }
  /** port of /metrics, /healthz and /readyz for a process without the API (ingest); 0 picks a free port */
  readonly metricsPort: number
  readonly logLevel: LogLevel
}

type Env = Readonly<Record<string, string | undefined>>

/** Collects problems instead of stopping at the first, so one start-up shows them all. */
class Problems {
  readonly list: string[] = []
  add(message: string): undefined {
    this.list.push(message)
    return undefined
  }
  throwIfAny(): void {
    if (this.list.length === 0) return
    throw new AppError(
      ErrorCodes.CONFIG_INVALID,
      `invalid configuration:\n${this.list.map((p) => `  - ${p}`).join('\n')}`,
      { problems: this.list },
    )
  }
}

function readSetting(env: Env, name: string, problems: Problems, secret = false): string | undefined {
  const fileName = `${name}_FILE`
  const direct = env[name]
  const file = secret ? env[fileName] : undefined
  if (direct !== undefined && direct !== '' && file !== undefined && file !== '') {
    return problems.add(`${name} and ${fileName} are both set: set only one`)
  }
  if (file !== undefined && file !== '') {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    } catch (error) {
      return problems.add(`${fileName} names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code})`)
    }
  }
  return direct === '' ? undefined : direct
}

function required(env: Env, name: string, problems: Problems, secret = false): string | undefined {
  const value = readSetting(env, name, problems, secret)
  if (value === undefined && !problems.list.some((p) => p.startsWith(name))) {
    const hint = secret ? ` (or ${name}_FILE)` : ''
    problems.add(`${name}${hint} is required`)
  }
  return value
}

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: Problems): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    problems.add(`${name} must be an integer from ${min} to ${max}, not '${raw}'`)
    return fallback
  }
  return Number(raw)
}

/** A true/false setting's value: `true`, `false`, `1` or `0`, in any case, spaces around ignored; undefined for anything else. */
export function parseFlag(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase()
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  return undefined
}

function flag(env: Env, name: string, fallback: boolean, problems: Problems): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = parseFlag(raw)
  if (value === undefined) problems.add(`${name} must be true or false (or 1 or 0), not '${raw}'`)
  return value ?? fallback
}

function topicName(env: Env, name: string, fallback: string, problems: Problems, isTopic = true): string {
  const value = env[name] || fallback
  // Kafka's own rule for topic names (the ingest's dead-letter topic adds '.dlq': 248 of 249).
  if (!/^[a-zA-Z0-9._-]{1,244}$/.test(value)) {
    problems.add(`${name} must be 1 to 244 of a-z A-Z 0-9 . _ -, not '${value}'`)
  } else if (isTopic && (value === '.' || value === '..')) {
    problems.add(`${name} must not be '.' or '..' (Kafka refuses those names)`)
  }
  return value
}

function parseBrokers(raw: string | undefined, problems: Problems): string[] {
  if (raw === undefined) return []
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  if (brokers.length === 0) problems.add('KAFKA_BROKERS lists no broker')
  for (const broker of brokers) {
    const match = /^(.+):(\d{1,5})$/.exec(broker)
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      problems.add(`KAFKA_BROKERS: '${broker}' is not host:port`)
    }
  }
  return brokers
}

function parseDatabaseUrl(
  raw: string | undefined,
  problems: Problems,
  name = 'DATABASE_URL',
): { url: string; safeUrl: string; dataSet: string } {
  if (raw === undefined) return { url: '', safeUrl: '', dataSet: '' }
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    problems.add(`${name} is not a URL (expected postgres://user:password@host:port/database)`)
    return { url: raw, safeUrl: '', dataSet: '' }
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    problems.add(`${name} must start with postgres:// or postgresql://, not ${parsed.protocol}//`)
  }
  if (parsed.pathname.length <= 1) problems.add(`${name} names no database (…/database at the end)`)
  if (parsed.password) parsed.password = '***'
  for (const key of [...parsed.searchParams.keys()]) {
    if (/pass|secret|key|token/i.test(key)) parsed.searchParams.set(key, '***')
  }
  return { url: raw, safeUrl: parsed.toString(), dataSet: `${parsed.host}${parsed.pathname}` }
}

function parseRedisRing(raw: string | undefined, problems: Problems, name = 'REDIS_RING'): RedisNodeConfig[] {
  if (raw === undefined) return []
  const nodes: RedisNodeConfig[] = []
  for (const [index, entry] of raw.split(',').entries()) {
    const text = entry.trim()
    let url: URL
    try {
      url = new URL(text)
    } catch {
      problems.add(`${name} entry ${index + 1} is not a URL (expected redis://user:password@host:port)`)
      continue
    }
    if (url.protocol !== 'redis:') {
      problems.add(`${name} entry ${index + 1} must start with redis://, not ${url.protocol}//`)
      continue
    }
    const port = url.port === '' ? 6379 : Number(url.port)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const node = {
      host,
      port,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      id: `${host}:${port}`,
    } as RedisNodeConfig
    Object.defineProperty(node, 'password', {
      value: url.password ? decodeURIComponent(url.password) : undefined,
      enumerable: false,
    })
    nodes.push(Object.freeze(node))
  }
  const ids = new Set(nodes.map((n) => n.id))
  if (ids.size !== nodes.length) problems.add(`${name} names the same host:port twice`)
  if (raw.trim() !== '' && nodes.length === 0 && problems.list.length === 0) problems.add(`${name} lists no node`)
  return nodes
}

/**
 * REDIS_RING or REDIS_CLUSTER, exactly one: two caches would each miss the other's invalidations.
 * The cluster's client logs in to every node with one user, so its seeds must agree on it.
 */
function redisSection(env: Env, problems: Problems): Pick<Config['redis'], 'ring' | 'cluster'> {
  const ringRaw = readSetting(env, 'REDIS_RING', problems, true)
  const clusterRaw = readSetting(env, 'REDIS_CLUSTER', problems, true)
  if (ringRaw !== undefined && clusterRaw !== undefined) {
    problems.add(
      'REDIS_RING and REDIS_CLUSTER are both set: set only one (the nodes of a ring, or the seed nodes of a Redis Cluster)',
    )
    return { ring: [], cluster: [] }
  }
  if (ringRaw === undefined && clusterRaw === undefined) {
    if (!problems.list.some((p) => p.startsWith('REDIS_RING') || p.startsWith('REDIS_CLUSTER'))) {
      problems.add(
        'REDIS_RING (or REDIS_RING_FILE) or REDIS_CLUSTER (or REDIS_CLUSTER_FILE) is required: the nodes of a Redis ring, or the seed nodes of a Redis Cluster',
      )
    }
    return { ring: [], cluster: [] }
  }
  const cluster = parseRedisRing(clusterRaw, problems, 'REDIS_CLUSTER')
  const users = new Set(cluster.map((node) => `${node.username ?? ''}\n${node.password ?? ''}`))
  if (users.size > 1) problems.add('REDIS_CLUSTER entries must all have the same user and password')
  return { ring: parseRedisRing(ringRaw, problems), cluster }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const key of Object.getOwnPropertyNames(value)) deepFreeze((value as Record<string, unknown>)[key])
    Object.freeze(value)
  }
  return value
}

/**
 * Builds the service's configuration from environment variables (`process.env` by default).
 * Throws one AppError(RSVP_CONFIG_INVALID) that lists every problem found.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems = new Problems()
  const kafka = kafkaSection(env, problems)
  const database = parseDatabaseUrl(required(env, 'DATABASE_URL', problems, true), problems)
  const readRaw = readSetting(env, 'DATABASE_READ_URL', problems, true)
  const replica = readRaw === undefined ? undefined : parseDatabaseUrl(readRaw, problems, 'DATABASE_READ_URL')
  const redis = redisSection(env, problems)
  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel
  if (!LogLevels.includes(logLevel)) problems.add(`LOG_LEVEL must be one of ${LogLevels.join(', ')}, not '${logLevel}'`)

  const batchMaxMessages = integer(env, 'INGEST_BATCH_MAX_MESSAGES', 20_000, 1, 1_000_000, problems)
  const config = {
    kafka,
    postgres: {
      safeUrl: database.safeUrl,
      dataSet: database.dataSet,
      // at least 2: ingest runs two batch transactions at once (src/ingest/batch-sequence.ts)
      poolSize: integer(env, 'PG_POOL_SIZE', 10, 2, 1000, problems),
      readSafeUrl: replica?.safeUrl,
      replicaMaxLagSeconds: integer(env, 'REPLICA_MAX_LAG_SECONDS', 5, 1, 86_400, problems),
    },
    redis: {
      ...redis,
      ttlSeconds: integer(env, 'REDIS_TTL_SECONDS', 300, 1, 86_400 * 30, problems),
      localCacheBytes: integer(env, 'DETAILS_LOCAL_CACHE_MB', 8, 0, 1024, problems) * 2 ** 20,
      localCacheTtlSeconds: integer(env, 'DETAILS_LOCAL_TTL_SECONDS', 10, 1, 86_400, problems),
    },
    http: {
      host: env.HTTP_HOST || '127.0.0.1',
      port: integer(env, 'HTTP_PORT', 8088, 0, 65_535, problems),
      maxK: integer(env, 'TOPK_MAX_K', 1000, 1, 100_000, problems),
      topkCacheMs: integer(env, 'TOPK_CACHE_MS', 200, 0, 60_000, problems),
      topkCacheMaxBytes: integer(env, 'TOPK_CACHE_MAX_MB', 32, 1, 65_536, problems) * 2 ** 20,
      topkCoalesce: flag(env, 'TOPK_COALESCE', true, problems),
      topkMaxWindowMs: integer(env, 'TOPK_MAX_WINDOW_DAYS', 7, 1, 3660, problems) * 86_400_000,
      requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 10_000, 100, 600_000, problems),
      maxConnections: integer(env, 'HTTP_MAX_CONNECTIONS', 10_000, 1, 1_000_000, problems),
      topkStreamsMax: integer(env, 'TOPK_STREAMS_MAX', 5000, 0, 1_000_000, problems),
      topkStreamQueriesMax: integer(env, 'TOPK_STREAM_QUERIES_MAX', 100, 1, 100_000, problems),
    },
    ingest: {
      batchMaxMessages,
      batchMaxBytes: integer(env, 'INGEST_BATCH_MAX_MB', 16, 1, 1024, problems) * 2 ** 20,
      batchMaxWaitMs: integer(env, 'INGEST_BATCH_MAX_WAIT_MS', 50, 1, 60_000, problems),
      readAheadMessages: integer(env, 'INGEST_READ_AHEAD_MESSAGES', batchMaxMessages, 1, 1_000_000, problems),
      groupCheckMs: integer(env, 'INGEST_GROUP_CHECK_SECONDS', 5, 1, 300, problems) * 1000,
    },
    readiness: {
      dependencyGraceMs: integer(env, 'DEPENDENCY_GRACE_SECONDS', 30, 0, 86_400, problems) * 1000,
    },
    metricsPort: integer(env, 'METRICS_PORT', 9464, 0, 65_535, problems),
    logLevel,
  }
  Object.defineProperty(config.postgres, 'url', { value: database.url, enumerable: false })
  Object.defineProperty(config.postgres, 'readUrl', { value: replica?.url, enumerable: false })
  problems.throwIfAny()
  return deepFreeze(config as unknown as Config)
}

/**
 * Only the Kafka settings, for commands that use nothing else (`produce`): they should not ask
 * for a database or a Redis ring they never reach.
 */
export function loadKafkaConfig(env: Env = process.env): Config['kafka'] {
  const problems = new Problems()
  const kafka = kafkaSection(env, problems)
  problems.throwIfAny()
  return deepFreeze(kafka as Config['kafka'])
}

function kafkaSection(env: Env, problems: Problems): Record<keyof Config['kafka'], unknown> {
  const topic = topicName(env, 'KAFKA_TOPIC', 'rsvps', problems)
  return {
    brokers: parseBrokers(required(env, 'KAFKA_BROKERS', problems), problems),
    topic,
    dlqTopic: `${topic}.dlq`,
    groupId: topicName(env, 'KAFKA_GROUP_ID', 'rsvp-topk', problems, false),
    clientId: env.KAFKA_CLIENT_ID || 'rsvp-topk',
    partitions: integer(env, 'KAFKA_PARTITIONS', 6, 1, 10_000, problems),
    // Checked against the brokers the cluster names when a topic is made (src/kafka/replication.ts).
    replicationFactor: env.KAFKA_REPLICATION_FACTOR
      ? integer(env, 'KAFKA_REPLICATION_FACTOR', 1, 1, 32_767, problems)
      : undefined,
    sessionTimeoutMs: integer(env, 'KAFKA_SESSION_TIMEOUT_MS', 10_000, 1000, 300_000, problems),
  }
}
