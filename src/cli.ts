/**
 * The `rsvp-topk` command line: parses arguments and hands over to one command module. Settings
 * come from the environment (see `./dev.sh env` and README); flags only choose what to do.
 */
import { Command, CommanderError } from 'commander'
import { TOPK_FILTERS } from './api/topk-filters.ts'
import type { ProduceFlags } from './commands/produce.ts'
import { isAppError } from './errors.ts'

const ENVIRONMENT_HELP = `
Environment (eval "$(./dev.sh env)" sets them for the local stack):
  KAFKA_BROKERS      host:port[,host:port…]           (required)
  KAFKA_TOPIC        topic of RSVPs                     (default rsvps; dead letters go to <topic>.dlq)
  KAFKA_GROUP_ID     consumer group                     (default rsvp-topk)
  KAFKA_CLIENT_ID    client id prefix seen by brokers   (default rsvp-topk)
  KAFKA_PARTITIONS   partitions of topics we create     (default 6)
  KAFKA_REPLICATION_FACTOR  replicas of topics we create (default min(3, brokers); with 3,
                     min.insync.replicas=2; at most the live brokers)
  KAFKA_SESSION_TIMEOUT_MS  consumer group session timeout (default 10000)
  DATABASE_URL       postgres://user:pass@host:port/db  (required; or DATABASE_URL_FILE)
  PG_POOL_SIZE       PostgreSQL connections per pool    (default 10; at least 2)
  DATABASE_READ_URL  a streaming replica for the API's reads (optional; or DATABASE_READ_URL_FILE;
                     the primary answers while it is down or behind)
  REPLICA_MAX_LAG_SECONDS  a replica further behind is not read (default 5)
  REDIS_RING         redis://user:pass@host:port,…      (this or REDIS_CLUSTER; or REDIS_RING_FILE)
  REDIS_CLUSTER      redis://user:pass@host:port,…      seed nodes of a Redis Cluster, instead of
                     the ring (or REDIS_CLUSTER_FILE; README: Redis Cluster or the ring)
  REDIS_TTL_SECONDS  how long event details stay cached (default 300)
  DETAILS_LOCAL_CACHE_MB  details each process keeps in front of Redis (default 8; 0 = none)
  DETAILS_LOCAL_TTL_SECONDS  how long it uses one (default 10)
  HTTP_HOST          address the HTTP API listens on    (default 127.0.0.1)
  HTTP_PORT          port of the HTTP API               (default 8088)
  HTTP_REQUEST_TIMEOUT_MS  how long a request may take to arrive (default 10000; then 408)
  HTTP_MAX_CONNECTIONS     connections open at once      (default 10000)
  TOPK_MAX_K         the largest k a request may ask    (default 1000)
  TOPK_CACHE_MS      reuse a top-k answer this long     (default 200; 0 = never)
  TOPK_CACHE_MAX_MB  memory for reused top-k answers    (default 32)
  TOPK_COALESCE      with TOPK_CACHE_MS=0, requests for the same query at once share one
                     computation begun after all of them arrived (default true;
                     true, false, 1 or 0)
  TOPK_MAX_WINDOW_DAYS  the widest from/to window, days (default 7)
  TOPK_STREAMS_MAX   live top-k streams open at once    (default 5000; more get 503)
  TOPK_STREAM_QUERIES_MAX  distinct queries they may follow (default 100; a new one beyond gets 503)
  METRICS_PORT       /metrics, /healthz, /readyz of 'ingest' (default 9464; 0 picks a free port)
  INGEST_BATCH_MAX_MESSAGES, INGEST_BATCH_MAX_MB, INGEST_BATCH_MAX_WAIT_MS
                     batch limits (default 20000 messages, 16 MB of messages, 50 ms);
                     memory grows with INGEST_BATCH_MAX_MB (README: Memory)
  INGEST_READ_AHEAD_MESSAGES  messages read ahead while earlier batches are parsed and applied (at most a batch)
                     (default: INGEST_BATCH_MAX_MESSAGES; less holds less memory)
  INGEST_GROUP_CHECK_SECONDS  how often the ingest checks its lag, its progress and that every
                     partition has an owner (default 5; partitions added to the topic are
                     read within about this long plus one rebalance)
  DEPENDENCY_GRACE_SECONDS  how long PostgreSQL or Kafka may fail before /readyz of 'ingest'
                     and 'serve' says 503 (default 30)
  LOG_LEVEL          fatal|error|warn|info|debug|trace|silent (default info)`

/** One line per top-k filter, from the filters' own declarations (api/topk-filters.ts). */
function filterHelp(): string {
  return TOPK_FILTERS.map(
    (filter) => `      &${`${filter.name}=${filter.example}`.padEnd(35)}… ${filter.description}`,
  ).join('\n')
}

export function buildProgram(): Command {
  const program = new Command('rsvp-topk')
    .description('Exact top-k event rankings from a Kafka stream of Meetup-style RSVPs')
    .version(process.env.npm_package_version ?? '0.1.0')
    .addHelpText('after', ENVIRONMENT_HELP)
    .showHelpAfterError()

  program
    .command('serve')
    .description('run ingest and the HTTP API in one process (what the demo runs)')
    .addHelpText(
      'after',
      `
Everything 'ingest' does, plus the HTTP API on HTTP_HOST:HTTP_PORT (see 'rsvp-topk api --help').`,
    )
    .action(async () => {
      const { runService } = await import('./main.ts')
      await runService({ ingest: true, api: true })
    })
  program
    .command('ingest')
    .description('consume RSVPs from KAFKA_TOPIC into PostgreSQL (one member of the consumer group)')
    .addHelpText(
      'after',
      `
Waits for PostgreSQL and Kafka (with backoff, a log line per attempt), applies database
migrations, creates KAFKA_TOPIC and its dead-letter topic <topic>.dlq when missing
(KAFKA_PARTITIONS partitions), then consumes until SIGTERM or SIGINT. Start several processes
with the same KAFKA_GROUP_ID to share the partitions. http://127.0.0.1:METRICS_PORT serves
/metrics, /healthz and /readyz (503 naming what is missing).`,
    )
    .action(async () => {
      const { runService } = await import('./main.ts')
      await runService({ ingest: true, api: false })
    })
  program
    .command('api')
    .description('serve the HTTP API (top-k and event details)')
    .addHelpText(
      'after',
      `
Serves on HTTP_HOST:HTTP_PORT (default 127.0.0.1:8088) at once; waits for PostgreSQL (the events
routes answer 503 meanwhile) and applies database migrations.
  GET /api/v1/events/topk?k=10            top k all-time (k from 1 to TOPK_MAX_K, default 10)
      &date=2021-03-01                    … counting only RSVPs whose current version is on that UTC day
      &from=…&to=…                        … or in [from, to): ISO-8601 (UTC without a zone) or epoch ms;
                                          to defaults to now, at most TOPK_MAX_WINDOW_DAYS wide
      &last=1h                            … or in a window ending now: 15m, 1h, 24h, 7d (it slides)
${filterHelp()}
  GET /api/v1/events/topk/stream?…        the same parameters, live: Server-Sent Events (curl -N)
  GET /api/v1/events/{event_id}           one event: details and counts (also /api/v1/events/info?event_id=…)
  GET /api/v1/events/{event_id}/history?from=…&to=…&step=hour|day
                                          its yes RSVPs and attendees per hour or day (default: 7 days by hour)
  GET /healthz  /readyz  /metrics  /openapi.json  /docs`,
    )
    .action(async () => {
      const { runService } = await import('./main.ts')
      await runService({ ingest: false, api: true })
    })
  program
    .command('produce')
    .description('send RSVPs to Kafka from a JSON-lines file or a generated stream')
    .option('--file <path>', 'send each non-blank line of a JSON-lines file (.gz too; - for stdin) as one message')
    .option(
      '--generate <n>',
      'send n generated RSVPs (Zipf-popular events, resends, flips, moves to another event, invalid messages)',
    )
    .option('--rate <r>', 'messages per second, paced evenly (default: as fast as possible)')
    .option(
      '--topic <name>',
      'topic to send to, created with KAFKA_PARTITIONS partitions when missing (default: KAFKA_TOPIC)',
    )
    .option('--seed <n>', 'seed of --generate: the same seed and flags give the same messages (default 1)')
    .option('--events <n>', 'distinct events (--generate; default 10000)')
    .option('--groups <n>', 'distinct groups (--generate; default 2000)')
    .option('--countries <n>', 'countries, 1 to 40 (--generate; default 20)')
    .option('--topics <n>', 'distinct group topics (--generate; default 200)')
    .option('--members <n>', 'distinct members (--generate; default 50000)')
    .option('--invalid-share <f>', 'share of invalid messages, 0 to 1 (--generate; default 0.01)')
    .option('--span-days <d>', 'days the mtimes advance over (--generate; default 7)')
    .option(
      '--start <time>',
      'mtime of the first message: ISO-8601 (UTC without a zone) or epoch ms (--generate; default 2026-01-01)',
    )
    .option('--batch <n>', 'most messages in one send (default 1000)')
    .option('--no-progress', 'no progress bar or progress lines on stderr (the summary still goes to stdout)')
    .addHelpText(
      'after',
      `
Exactly one of --file and --generate. A file's lines go byte for byte, malformed ones included
(that is how the dead-letter topic gets tested), keyed by their rsvp_id when they have one; blank
lines are skipped and a CRLF line ending loses its \\r. Progress goes to stderr (a bar on a
terminal), the summary (sent, failed, seconds, rate) to stdout. Ctrl-C lets the send under way
finish, prints the summary and exits 130 (a second Ctrl-C quits at once); a send that still fails
after about 30 s of retries (Kafka gone) exits 1. Only the Kafka settings are read from the
environment (KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR; see
'rsvp-topk --help'): no database or Redis is needed.

Examples:
  rsvp-topk produce --generate 1000000                     a million RSVPs, as fast as possible
  rsvp-topk produce --generate 50000 --rate 500 --seed 7   a steady stream of 500 per second
  rsvp-topk produce --generate 10000 --events 50 --countries 3 --start 2026-03-01 --span-days 1
  rsvp-topk produce --file rsvps.jsonl.gz --topic rsvps-replay
  zcat capture.gz | grep '"country":"us"' | rsvp-topk produce --file -`,
    )
    .action(async (flags: ProduceFlags) => {
      const { runProduce } = await import('./commands/produce.ts')
      process.exit(await runProduce(flags))
    })
  program
    .command('migrate')
    .description('apply the database migrations that are not applied yet')
    .action(async () => {
      const { runMigrations } = await import('./commands/migrate.ts')
      await runMigrations()
    })
  return program
}

/**
 * Runs the command `argv` names (`process.argv`: node, the script, then the arguments). A usage
 * error exits with commander's code, a configuration or start-up error (AppError) with 1 and its
 * message on stderr; anything else is thrown. Importing this module does nothing by itself, so
 * scripts/warm-compile-cache.ts can load it.
 */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv])
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode)
    if (isAppError(error)) {
      process.stderr.write(`rsvp-topk: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}
