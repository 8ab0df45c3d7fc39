/**
 * The whole benchmark suite, what `./dev.sh bench` runs: each benchmark in its own process, one
 * after the other (they share two cores), then a table and bench/results/latest.json.
 *
 *   eval "$(./dev.sh env)" && node bench/suite.ts [--quick]
 *
 * --quick runs smaller versions (about a minute or two) to check that everything works; its
 * figures are not the ones the targets are about.
 *
 * Absolute figures move 2-3x between machines, so the targets that matter are ratios within one
 * run: ingest / the upsert floor (bench/raw-throughput.ts), ingest / raw consume, and freshness
 * measured at FRESHNESS_CAPACITY_FRACTION of the ingest capacity this same run measured.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.ts'
import { createPostgres } from '../src/store/postgres.ts'
import { connectRedisAdmin } from '../test/helpers.ts'
import { machine, silent } from './support.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const RESULTS = join(ROOT, 'bench/results')

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'from-results': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  console.log(
    'Usage: ./dev.sh bench [--quick] [--from-results]\n' +
      '  runs every benchmark and writes bench/results/latest.json (see BENCHMARKS.md)\n' +
      "  --from-results: run nothing; make the table and latest.json from the benchmarks' last result files",
  )
  process.exit(0)
}
const quick = flags.quick

type Figures = Record<string, unknown>

function run(title: string, script: string, args: string[], resultFile: string): Figures {
  if (flags['from-results']) return JSON.parse(readFileSync(join(RESULTS, resultFile), 'utf8')) as Figures
  console.log(`\n=== ${title}: node ${script} ${args.join(' ')}`)
  const started = performance.now()
  const child = spawnSync(process.execPath, [join(ROOT, script), ...args], { stdio: 'inherit', env: process.env })
  if (child.status !== 0) throw new Error(`${script} failed (exit ${child.status ?? child.signal})`)
  console.log(`=== ${title}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return JSON.parse(readFileSync(join(RESULTS, resultFile), 'utf8')) as Figures
}

/** Freshness runs at this share of the ingest capacity: a load the machine can carry, with room for bursts. */
const FRESHNESS_CAPACITY_FRACTION = 0.3

const number = (figures: Figures, key: string) =>
  typeof figures[key] === 'number' ? (figures[key] as number) : Number.NaN

type AtRateKey = 'p50_ms' | 'p99_ms' | 'rps' | 'connections'
type Conn64Key = '64conn_p50_ms' | '64conn_p99_ms' | '64conn_rps'

/**
 * The k=10 figures of one top-k bench (bench/topk-latency.ts) under `<prefix>_…`: `_p50_ms`,
 * `_p99_ms`, `_rps`, `_connections` of the run that served the target rate (of the runs at >= 10,000
 * requests/s with every answer a 2xx, the one with the lowest p99; each null when no run reached
 * it), and `_64conn_p50_ms`, `_64conn_p99_ms`, `_64conn_rps` of the run at its --connections (64;
 * NaN when missing, as `number` gives).
 */
function k10Figures<P extends string>(
  prefix: P,
  figures: Figures,
): Record<`${P}_${AtRateKey}`, number | null> & Record<`${P}_${Conn64Key}`, number> {
  const atRate = (key: string) => {
    const value = number(figures, `topk_k10_at_target_rps_${key}`)
    return Number.isNaN(value) ? null : value
  }
  const named = {
    p50_ms: atRate('p50_ms'),
    p99_ms: atRate('p99_ms'),
    rps: atRate('rps'),
    connections: atRate('connections'),
    '64conn_p50_ms': number(figures, 'topk_k10_p50_ms'),
    '64conn_p99_ms': number(figures, 'topk_k10_p99_ms'),
    '64conn_rps': number(figures, 'topk_k10_rps'),
  }
  return Object.fromEntries(Object.entries(named).map(([key, value]) => [`${prefix}_${key}`, value])) as Record<
    `${P}_${AtRateKey}`,
    number | null
  > &
    Record<`${P}_${Conn64Key}`, number>
}

const messages = quick ? '100000' : '1000000'
const ingest = run('ingest', 'bench/ingest-throughput.ts', ['--messages', messages], 'ingest.json')
const raw = run('raw limits', 'bench/raw-throughput.ts', ['--messages', messages], 'raw.json')
const capacity = number(ingest, 'ingest_rsvps_per_s')
if (!(capacity > 0)) throw new Error(`ingest.json has no usable ingest_rsvps_per_s (${capacity})`)
const freshnessArgs = ['--seconds', quick ? '8' : '30', '--capacity', String(capacity)]
const freshness = run(
  'freshness',
  'bench/freshness.ts',
  [...freshnessArgs, '--capacity-fraction', String(FRESHNESS_CAPACITY_FRACTION)],
  'freshness.json',
)
// k=10 again at fewer connections: 64 closed-loop connections alone make the mean latency 64 /
// throughput, so a latency target at a request rate is read from the curve (bench/topk-latency.ts).
const SWEEP = ['--sweep', '8,16,32']
const topk = run(
  'top k',
  'bench/topk-latency.ts',
  [...(quick ? ['--quick'] : []), ...SWEEP],
  quick ? 'topk-quick.json' : 'topk.json',
)
// The same requests with no answer reuse (TOPK_CACHE_MS=0): no answer is older than its request.
// Concurrent identical requests share a computation begun after all of them arrived (the default,
// TOPK_COALESCE=true), and then, with that off too, each request reads PostgreSQL and the details
// itself. The windows and the naive query are measured once, above.
function topkWithoutReuse(title: string, file: string, extra: string[]): Figures {
  const args = [...(quick ? ['--quick'] : []), '--topk-cache-ms', '0', '--no-windows', '--naive-runs', '1']
  return run(title, 'bench/topk-latency.ts', [...args, ...extra, '--out', join(RESULTS, file)], file)
}
const noReuseFile = quick ? 'topk-no-reuse-quick.json' : 'topk-no-reuse.json'
const topkNoReuse = topkWithoutReuse('top k without answer reuse', noReuseFile, SWEEP)
const uncoalescedFile = quick ? 'topk-no-reuse-uncoalesced-quick.json' : 'topk-no-reuse-uncoalesced.json'
const topkUncoalesced = topkWithoutReuse('top k without answer reuse or coalescing', uncoalescedFile, ['--no-coalesce'])

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
const db = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silent })
const postgres = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v
await db.close()
const redis = await redisVersion()
const kafka = /^KAFKA_VERSION="([\d.]+)"/m.exec(readFileSync(join(ROOT, 'stack/common.sh'), 'utf8'))?.[1]

const rss = {
  ingest: number(ingest, 'service_peak_rss_mb'),
  serve_at_freshness_rate: number(freshness, 'serve_peak_rss_mb'),
  api_under_load: number(topk, 'service_peak_rss_mb'),
}
const latest = {
  quick,
  ingest_rsvps_per_s: number(ingest, 'ingest_rsvps_per_s'),
  raw_consume_msgs_per_s: number(raw, 'raw_consume_msgs_per_s'),
  raw_copy_rows_per_s: number(raw, 'raw_copy_rows_per_s'),
  // valid RSVP messages per second through COPY + one INSERT … ON CONFLICT (see bench/raw-throughput.ts)
  upsert_floor_rows_per_s: number(raw, 'upsert_floor_rows_per_s'),
  ingest_vs_upsert_floor: number(ingest, 'ingest_rsvps_per_s') / number(raw, 'upsert_floor_rows_per_s'),
  ingest_vs_raw_consume: number(ingest, 'ingest_rsvps_per_s') / number(raw, 'raw_consume_msgs_per_s'),
  // What bounds ingest_vs_upsert_floor, per message: the ingest process's CPU and PostgreSQL's
  // statement time in the ingest run (pg_stat_statements; null without it), against the floor's
  // whole time (the floor has the machine to itself, its rows parsed before its clock starts).
  ingest_cpu_us_per_message: number(ingest, 'ingest_cpu_us_per_message'),
  ingest_db_exec_us_per_message: number(ingest, 'database_exec_us_per_message'),
  upsert_floor_us_per_message: 1e6 / number(raw, 'upsert_floor_rows_per_s'),
  // the rate produced, and the rate asked for: freshness_capacity_fraction × ingest_rsvps_per_s
  freshness_rate_per_s: number(freshness, 'freshness_rate_per_s'),
  freshness_requested_rate_per_s: number(freshness, 'freshness_requested_rate_per_s'),
  freshness_capacity_fraction: FRESHNESS_CAPACITY_FRACTION,
  freshness_capacity_rsvps_per_s: capacity,
  freshness_p50_ms: number(freshness, 'freshness_p50_ms'),
  freshness_p99_ms: number(freshness, 'freshness_p99_ms'),
  freshness_pushed_p50_ms: number(freshness, 'freshness_pushed_p50_ms'),
  freshness_pushed_p99_ms: number(freshness, 'freshness_pushed_p99_ms'),
  // A latency target at a request rate ("p99 <= 5 ms at >= 10,000 requests/s") is read at that
  // rate: of the k=10 runs (64 connections and the sweep's 8, 16, 32) that reached 10,000 requests/s
  // with every answer a 2xx, the one with the lowest p99, and its p50, rate and connections (all
  // null: no run reached the rate). 64 closed-loop connections alone wait 64 / throughput on
  // average (Little's law), so that run's figures, kept under `_64conn_`, measure the load
  // generator's queue at whatever rate it reached, not the latency at the target's rate.
  ...k10Figures('topk_k10', topk),
  topk_k100_p99_ms: number(topk, 'topk_k100_p99_ms'),
  ...k10Figures('topk_k10_nocache', topkNoReuse),
  // the same with TOPK_COALESCE=false: every request its own statement (the cost of one answer)
  topk_k10_nocache_uncoalesced_p50_ms: number(topkUncoalesced, 'topk_k10_p50_ms'),
  topk_k10_nocache_uncoalesced_p99_ms: number(topkUncoalesced, 'topk_k10_p99_ms'),
  topk_k10_nocache_uncoalesced_rps: number(topkUncoalesced, 'topk_k10_rps'),
  topk_date_k10_p99_ms: number(topk, 'topk_date_k10_p99_ms'),
  naive_topk_k10_ms: number(topk, 'naive_topk_k10_ms'),
  ingest_peak_rss_mb: rss.ingest,
  serve_peak_rss_mb: rss.serve_at_freshness_rate,
  api_peak_rss_mb: rss.api_under_load,
  service_peak_rss_mb: Math.max(...Object.values(rss).filter((v) => !Number.isNaN(v))),
  service_peak_rss_mb_by_process: rss,
  details: { ingest, raw, freshness, topk, topk_no_reuse: topkNoReuse, topk_no_reuse_uncoalesced: topkUncoalesced },
  machine: machine(),
  versions: { node: process.version, kafka, postgres, redis, commit: gitCommit() },
  finished_at: new Date().toISOString(),
  // --from-results: the figures are the result files' from earlier runs, and the commit and time
  // above are this call's, not theirs
  from_results: flags['from-results'],
}
writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(latest, null, 2)}\n`)

type Row = [string, number, string, boolean | undefined]
/**
 * A latency target at a request rate: the p99 of the run that served >= 10,000 requests/s, or a
 * row saying no run reached that rate.
 */
function atTenThousand(name: string, p99: number | null, rps: number | null, connections: number | null): Row[] {
  if (p99 === null || rps === null) return [[`${name} (no run >= 10k/s)`, Number.NaN, '<= 5 at 10k/s', false]]
  return [
    [name, p99, '<= 5 at 10k/s', p99 <= 5],
    // the run was chosen for reaching the rate, so this row is its figure, not a second check
    [`  at req/s (${connections} connections)`, rps, '', undefined],
  ]
}
const rows: Row[] = [
  ['ingest_rsvps_per_s', latest.ingest_rsvps_per_s, '>= 50,000', latest.ingest_rsvps_per_s >= 50_000],
  ['raw_consume_msgs_per_s', latest.raw_consume_msgs_per_s, '', undefined],
  ['raw_copy_rows_per_s', latest.raw_copy_rows_per_s, '', undefined],
  ['upsert_floor_rows_per_s', latest.upsert_floor_rows_per_s, '', undefined],
  ['ingest_vs_upsert_floor', latest.ingest_vs_upsert_floor, '>= 0.5', latest.ingest_vs_upsert_floor >= 0.5],
  ['ingest_vs_raw_consume', latest.ingest_vs_raw_consume, '', undefined],
  ['  ingest CPU us/message', latest.ingest_cpu_us_per_message, '', undefined],
  ['  ingest SQL us/message', latest.ingest_db_exec_us_per_message, '', undefined],
  ['  upsert floor us/message', latest.upsert_floor_us_per_message, '', undefined],
  [
    'ingest / raw COPY',
    latest.ingest_rsvps_per_s / latest.raw_copy_rows_per_s,
    '>= 0.5',
    latest.ingest_rsvps_per_s >= 0.5 * latest.raw_copy_rows_per_s,
  ],
  ['freshness_rate_per_s', latest.freshness_rate_per_s, '', undefined],
  ['freshness_capacity_fraction', latest.freshness_capacity_fraction, '', undefined],
  ['freshness_p50_ms', latest.freshness_p50_ms, '', undefined],
  ['freshness_p99_ms', latest.freshness_p99_ms, '<= 1,000', latest.freshness_p99_ms <= 1000],
  ['freshness_pushed_p50_ms', latest.freshness_pushed_p50_ms, '', undefined],
  ['freshness_pushed_p99_ms', latest.freshness_pushed_p99_ms, '', undefined],
  ['topk_k10_p50_ms', latest.topk_k10_p50_ms ?? Number.NaN, '', undefined],
  ...atTenThousand('topk_k10_p99_ms', latest.topk_k10_p99_ms, latest.topk_k10_rps, latest.topk_k10_connections),
  ['  64 connections: p99_ms', latest.topk_k10_64conn_p99_ms, '', undefined],
  ['  64 connections: rps', latest.topk_k10_64conn_rps, '', undefined],
  ['topk_k100_p99_ms', latest.topk_k100_p99_ms, '', undefined],
  ['topk_k10_nocache_p50_ms', latest.topk_k10_nocache_p50_ms ?? Number.NaN, '', undefined],
  ...atTenThousand(
    'topk_k10_nocache_p99_ms',
    latest.topk_k10_nocache_p99_ms,
    latest.topk_k10_nocache_rps,
    latest.topk_k10_nocache_connections,
  ),
  ['  64 connections: p99_ms', latest.topk_k10_nocache_64conn_p99_ms, '', undefined],
  ['  64 connections: rps', latest.topk_k10_nocache_64conn_rps, '', undefined],
  ['  uncoalesced p99_ms', latest.topk_k10_nocache_uncoalesced_p99_ms, '', undefined],
  ['  uncoalesced rps', latest.topk_k10_nocache_uncoalesced_rps, '', undefined],
  ['topk_date_k10_p99_ms', latest.topk_date_k10_p99_ms, '', undefined],
  ['naive_topk_k10_ms', latest.naive_topk_k10_ms, '', undefined],
  [
    'naive / top-k k=10 p50',
    latest.naive_topk_k10_ms / latest.topk_k10_64conn_p50_ms,
    '>= 100',
    latest.naive_topk_k10_ms >= 100 * latest.topk_k10_64conn_p50_ms,
  ],
  ['ingest_peak_rss_mb', latest.ingest_peak_rss_mb, '<= 300', latest.ingest_peak_rss_mb <= 300],
  ['serve_peak_rss_mb', latest.serve_peak_rss_mb, '<= 300', latest.serve_peak_rss_mb <= 300],
  ['api_peak_rss_mb', latest.api_peak_rss_mb, '<= 200', latest.api_peak_rss_mb <= 200],
]
console.log(`\nrsvp-topk benchmarks${quick ? ' (--quick: smaller runs, not the targets’ sizes)' : ''}`)
if (flags['from-results']) console.log("(--from-results: the benchmarks' last result files, not a run at this commit)")
console.log(
  `machine: ${latest.machine.cores} cores, ${latest.machine.memory_gb} GB (${latest.machine.cpu}); node ${process.version}, kafka ${kafka}, postgres ${postgres}, redis ${redis}`,
)
console.log(`${'figure'.padEnd(28)} ${'value'.padStart(14)}  ${'target'.padEnd(17)} met`)
for (const [name, value, target, met] of rows) {
  const shown = Number.isInteger(value) ? value.toLocaleString('en') : value.toFixed(value < 1 ? 3 : value < 10 ? 2 : 1)
  console.log(
    `${name.padEnd(28)} ${shown.padStart(14)}  ${target.padEnd(17)} ${met === undefined ? '' : met ? 'yes' : 'NO'}`,
  )
}
console.log(
  `freshness ran at ${latest.freshness_rate_per_s.toLocaleString('en')} RSVPs/s produced, asked for ${FRESHNESS_CAPACITY_FRACTION} × the ingest capacity of ${capacity.toLocaleString('en')} RSVPs/s measured above`,
)
console.log('\nwritten: bench/results/latest.json')

/**
 * The first ring node's version. INFO is not among the commands the service's Redis user may run
 * (README: least privilege), so this asks as the stack's admin user, which ./dev.sh bench exports;
 * without it the version is left out rather than failing the suite after all its runs.
 */
async function redisVersion(): Promise<string | undefined> {
  const node = config.redis.ring[0]
  if (!node) return undefined
  try {
    const connection = await connectRedisAdmin(node)
    try {
      return /redis_version:(\S+)/.exec(await connection.info('server'))?.[1]
    } finally {
      connection.disconnect()
    }
  } catch (error) {
    console.warn(`could not read the Redis version: ${(error as Error).message}`)
    return undefined
  }
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}
