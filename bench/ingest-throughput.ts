/**
 * Sustained ingest throughput: RSVPs per second from Kafka to committed PostgreSQL state.
 *
 *   eval "$(./dev.sh env)" && node bench/ingest-throughput.ts [--messages 1000000] [--seed 7]
 *     [--processes 1] [--no-profile] [--no-verify] [--heap-snapshot] [--node-flags "…"] [--out bench/results/ingest.json] [--help]
 *
 * Fills a fresh 6-partition topic with a generated stream (the producer's speed is reported but
 * not counted), then starts real `rsvp-topk ingest` processes (one unless --processes) on a fresh
 * database and times them from joining the group until every message is committed (their
 * metrics count them all). Then it checks the database against the contract's oracle over the
 * same stream, so a figure is only printed for an exact result. A second run, on another fresh
 * database, goes under `node --cpu-prof` (the profiler costs about 5%, so it does not give the
 * figure); its profile is summarised by where the time goes and kept in bench/results/. With
 * --heap-snapshot that run also writes a heap snapshot half way through and summarises what is
 * live (the snapshot's pause and full collections then show in its CPU profile).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { loadConfig } from '../src/config.ts'
import { deleteTopics } from '../src/kafka/client.ts'
import { createLogger } from '../src/observability/logger.ts'
import { generateStream } from '../src/producer/generator.ts'
import { createPostgres } from '../src/store/postgres.ts'
import { assertStoreMatchesContract } from '../test/support/ingest-harness.ts'
import { summariseHeapSnapshot } from './heap-summary.ts'
import {
  createFreshDatabase,
  fillTopic,
  type GeneratedStreamOptions,
  machine,
  machineCpuSeconds,
  peakRssMb,
  positiveInteger,
  processCpuSeconds,
  type StatementTime,
  statementTimes,
  withGeneratedStreamOptions,
} from './support.ts'

const program: Command = withGeneratedStreamOptions(
  new Command('ingest-throughput').description(
    'RSVPs/s from Kafka to committed PostgreSQL state: real `rsvp-topk ingest` processes catching up a topic that already holds a generated stream, on a fresh database, checked exact against the contract.',
  ),
  'generated messages in the backlog',
)
  .option('--processes <n>', '`rsvp-topk ingest` processes in the consumer group', positiveInteger, 1)
  .option('--no-profile', 'skip the second run under --cpu-prof')
  .option(
    '--no-verify',
    "skip checking the database against the contract's oracle (faster; the figure is then unchecked)",
  )
  .option('--heap-snapshot', 'in the profiled run, write a heap snapshot half way through and summarise it', false)
  .option(
    '--node-flags <flags>',
    'V8 flags for the ingest processes, space-separated, e.g. "--max-semi-space-size=16 --max-old-space-size=1024"; one that sizes the heap replaces the command\'s own heap flags (src/heap-flags.ts)',
    '',
  )
  .option('--out <file>', 'the JSON result file', 'bench/results/ingest.json')
  .addHelpText(
    'after',
    `
Run inside eval "$(./dev.sh env)". Settings of the ingest (INGEST_BATCH_MAX_MB, INGEST_READ_AHEAD_MESSAGES, …)
come from the environment. Prints RSVPs/s, the peak RSS and where it was, the ingest's CPU and PostgreSQL's
statement time per message, and the CPU profile by area (BENCHMARKS.md).`,
  )
  .parse()
const args = program.opts<
  GeneratedStreamOptions & {
    processes: number
    profile: boolean
    verify: boolean
    heapSnapshot: boolean
    nodeFlags: string
    out: string
  }
>()
if (args.heapSnapshot && !args.profile)
  program.error('error: --heap-snapshot is taken in the profiled run: drop --no-profile')
const total = args.messages
const processCount = args.processes
const root = fileURLToPath(new URL('../', import.meta.url))
const resultsDir = join(root, 'bench/results')
const profileDir = join(resultsDir, `ingest-profile-${Date.now()}`)
mkdirSync(profileDir, { recursive: true })

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
const logger = createLogger('silent')
const run = `bench_${Date.now().toString(36)}`

console.log(`producing ${total.toLocaleString()} generated RSVP messages to topic ${run} …`)
const streamOptions = { count: total, seed: args.seed, events: args.events }
const producedPerSecond = await fillTopic(config, run, streamOptions)
console.log(`produced at ${producedPerSecond.toLocaleString()} msgs/s`)

interface Sample {
  consumed: number
  /** the process's memory as its own metrics report it, in MB */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number }
  /** V8's heap by space (new, old, large objects, code…): size and used, in MB */
  heapSpaces: Record<string, { size: number; used: number }>
}

interface Measurement {
  seconds: number
  withStartupSeconds: number
  distinctRsvps: number | undefined
  verified: boolean
  peakRss: number
  peakMemory: Sample['memory'] | undefined
  peakHeapSpaces: Sample['heapSpaces'] | undefined
  /** CPU seconds between joining the group and the last message: the ingest processes' and the machine's */
  cpu: { ingest: number; machineBusy: number; machineTotal: number }
  /** PostgreSQL's statements in the run's database (undefined without pg_stat_statements) */
  statements: StatementTime[] | undefined
}

/**
 * One run over the whole topic: a fresh database and consumer group each time, so runs do not
 * make each other faster or slower.
 */
async function measure(
  label: string,
  options: { profile: boolean; verify: boolean; heapSnapshot?: boolean },
): Promise<Measurement> {
  const name = `${run}_${label}`
  const database = await createFreshDatabase(config, name)
  // Each process is one member of the consumer group; several share the partitions (scale-out).
  let joinedAt: number | undefined
  // Whether the ingest process or the machine is the bound: its CPU against the machine's.
  let cpuAtJoin: { ingest: number; machine: ReturnType<typeof machineCpuSeconds> } | undefined
  const ingestCpu = () => processes.reduce((sum, p) => sum + (processCpuSeconds(p.child.pid) ?? 0), 0)
  const spawnedAt = performance.now()
  const processes = Array.from({ length: processCount }, () => {
    const child = spawn(
      process.execPath,
      [
        ...args.nodeFlags.split(' ').filter(Boolean),
        ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ...(options.heapSnapshot ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profileDir}`] : []),
        join(root, 'bin/rsvp-topk.js'),
        'ingest',
      ],
      {
        env: {
          ...process.env,
          KAFKA_TOPIC: run,
          KAFKA_GROUP_ID: name,
          DATABASE_URL: database.url,
          METRICS_PORT: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const started: { child: ChildProcess; metricsUrl?: string } = { child }
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (line.includes('"HTTP listening"')) started.metricsUrl = `${JSON.parse(line).address}/metrics`
        if (line.includes('"joined the consumer group"') && joinedAt === undefined) {
          joinedAt = performance.now()
          cpuAtJoin = { ingest: ingestCpu(), machine: machineCpuSeconds() }
        }
      }
    })
    return started
  })

  let done = 0
  let peakRss = 0
  // Where the memory was when a process's resident set was largest: V8's heap, memory outside it
  // (Buffers), and the rest (code, the allocator's free lists, thread stacks).
  let peakMemory: Sample['memory'] | undefined
  let peakHeapSpaces: Sample['heapSpaces'] | undefined
  let lastReport = performance.now()
  let snapshotTaken = false
  while (done < total) {
    await sleep(200)
    const samples = await Promise.all(processes.map((p) => sample(p.metricsUrl)))
    done = samples.reduce((sum, s) => sum + (s?.consumed ?? 0), 0)
    for (const s of samples) {
      if (s && s.memory.rss > (peakMemory?.rss ?? 0)) {
        peakMemory = s.memory
        peakHeapSpaces = s.heapSpaces
      }
    }
    // Half way through, the live heap is what a running ingest holds (the snapshot pauses it).
    if (options.heapSnapshot && !snapshotTaken && done >= total / 2) {
      snapshotTaken = processes[0]?.child.kill('SIGUSR2') ?? false
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now()
      console.log(`  ${label}: ingested ${done.toLocaleString()} / ${total.toLocaleString()}`)
    }
    for (const { child } of processes) {
      if (child.exitCode !== null) throw new Error(`ingest exited early with code ${child.exitCode}`)
      peakRss = Math.max(peakRss, peakRssMb(child.pid) ?? 0)
    }
  }
  const finishedAt = performance.now()
  const machineAtEnd = machineCpuSeconds()
  const cpu = {
    ingest: ingestCpu() - (cpuAtJoin?.ingest ?? 0),
    machineBusy: machineAtEnd.busy - (cpuAtJoin?.machine.busy ?? 0),
    machineTotal: machineAtEnd.total - (cpuAtJoin?.machine.total ?? 0),
  }
  await Promise.all(
    processes.map(async ({ child }) => {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }),
  )

  // Read before the check below adds its own statements to the database's.
  const statements = await statementTimes(config, name)
  const db = createPostgres({ url: database.url, poolSize: 1 }, { logger })
  try {
    const stored = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rsvps')
    // The figure counts only if the state is exact: every count and detail against the
    // contract's oracle over the same generated stream.
    if (options.verify) {
      const started = performance.now()
      await assertStoreMatchesContract(db, [...generateStream(streamOptions)], 10_000)
      console.log(
        `exact: the database matches the contract for all ${total.toLocaleString()} messages (checked in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
      )
    }
    return {
      seconds: (finishedAt - (joinedAt ?? spawnedAt)) / 1000,
      withStartupSeconds: (finishedAt - spawnedAt) / 1000,
      distinctRsvps: stored.rows[0]?.n,
      verified: options.verify,
      peakRss,
      peakMemory,
      peakHeapSpaces,
      cpu,
      statements,
    }
  } finally {
    await db.close()
    await database.drop()
  }
}

function sumMs(statements: readonly StatementTime[]): number {
  return statements.reduce((sum, s) => sum + s.totalMs, 0)
}

async function sample(metricsUrl: string | undefined): Promise<Sample | undefined> {
  if (!metricsUrl) return undefined
  const text = await (await fetch(metricsUrl)).text()
  let consumed = 0
  for (const match of text.matchAll(/^rsvp_topk_ingest_messages_total\{outcome="\w+"\} (\d+)/gm))
    consumed += Number(match[1])
  const mb = (name: string) =>
    Math.round(Number(new RegExp(`^rsvp_topk_${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0) / 2 ** 20)
  const heapSpaces: Sample['heapSpaces'] = {}
  for (const [, kind, space, bytes] of text.matchAll(
    /^rsvp_topk_nodejs_heap_space_size_(total|used)_bytes\{space="(\w+)"\} (\S+)/gm,
  )) {
    const entry = heapSpaces[space as string] ?? { size: 0, used: 0 }
    entry[kind === 'total' ? 'size' : 'used'] = Math.round(Number(bytes) / 2 ** 20)
    heapSpaces[space as string] = entry
  }
  return {
    consumed,
    heapSpaces,
    memory: {
      rss: mb('process_resident_memory_bytes'),
      heapTotal: mb('nodejs_heap_size_total_bytes'),
      heapUsed: mb('nodejs_heap_size_used_bytes'),
      external: mb('nodejs_external_memory_bytes'),
    },
  }
}

// The figure comes from a run without the profiler (it costs about 5%); a second run under
// `--cpu-prof` shows where the time goes.
let plain: Measurement
let profiled: Measurement | undefined
try {
  plain = await measure('plain', { profile: false, verify: args.verify })
  if (args.profile) {
    profiled = await measure('profiled', { profile: true, verify: false, heapSnapshot: args.heapSnapshot })
  }
} finally {
  await deleteTopics(config.kafka, [run, `${run}.dlq`])
}
const { peakRss, peakMemory, peakHeapSpaces } = plain
// What the live heap was made of half way through the profiled run.
const snapshotFile = readdirSync(profileDir).find((f) => f.endsWith('.heapsnapshot'))
const heap = snapshotFile ? summariseHeapSnapshot(join(profileDir, snapshotFile)) : undefined

const result = {
  messages: total,
  ingest_processes: processCount,
  ingest_seconds: Number(plain.seconds.toFixed(2)),
  ingest_rsvps_per_s: Math.round(total / plain.seconds),
  ingest_with_startup_seconds: Number(plain.withStartupSeconds.toFixed(2)),
  ingest_rsvps_per_s_under_profiler: profiled && Math.round(total / profiled.seconds),
  produce_msgs_per_s: producedPerSecond,
  distinct_rsvps_stored: plain.distinctRsvps,
  verified_exact: plain.verified,
  service_peak_rss_mb: peakRss,
  memory_at_peak_mb: peakMemory,
  heap_spaces_at_peak_mb: peakHeapSpaces,
  ingest_cpu_seconds: Number(plain.cpu.ingest.toFixed(1)),
  // what bounds ingest / the upsert floor: the process's CPU and PostgreSQL's statements, per message
  ingest_cpu_us_per_message: Math.round((plain.cpu.ingest * 1e6) / total),
  database_exec_us_per_message: plain.statements && Math.round((sumMs(plain.statements) * 1000) / total),
  database_statements: plain.statements?.slice(0, 8).map((s) => ({
    ...s,
    us_per_message: Number(((s.totalMs * 1000) / total).toFixed(1)),
  })),
  machine_busy_cpu_seconds: Number(plain.cpu.machineBusy.toFixed(1)),
  machine_cpu_seconds: Number(plain.cpu.machineTotal.toFixed(1)),
  live_heap_mid_run: heap,
  machine: { ...machine(), node: process.version },
}
console.log(
  `\ningest: ${result.ingest_rsvps_per_s.toLocaleString()} RSVPs/s (${total.toLocaleString()} messages in ${result.ingest_seconds} s; peak RSS ${result.service_peak_rss_mb} MB)`,
)
console.log(
  `CPU while catching up: the ingest ${result.ingest_cpu_seconds} s (${(plain.cpu.ingest / plain.seconds).toFixed(2)} cores), the machine ${result.machine_busy_cpu_seconds} of ${result.machine_cpu_seconds} s busy (all processes: the ingest, PostgreSQL, the broker)`,
)
if (result.database_statements) {
  console.log(
    `PostgreSQL's statements (pg_stat_statements, execution time): ${result.database_exec_us_per_message} µs per message in all, the ingest process's CPU ${result.ingest_cpu_us_per_message} µs`,
  )
  for (const s of result.database_statements) {
    console.log(
      `  ${String(s.us_per_message).padStart(6)} µs  ${s.calls.toLocaleString().padStart(6)} calls  ${s.walMb.toLocaleString().padStart(5)} MB WAL  ${s.statement}`,
    )
  }
}
if (peakMemory) {
  const { rss, heapTotal, heapUsed, external } = peakMemory
  console.log(
    `memory at the largest sampled RSS (${rss} MB): V8 heap ${heapTotal} MB (${heapUsed} MB in use), outside the heap (Buffers) ${external} MB, the rest ${rss - heapTotal - external} MB`,
  )
  const spaces = Object.entries(peakHeapSpaces ?? {}).filter(([, s]) => s.size > 0)
  console.log(`  V8 heap by space (size/used MB): ${spaces.map(([n, s]) => `${n} ${s.size}/${s.used}`).join(', ')}`)
}

if (heap) {
  console.log(`\nlive heap half way through the profiled run (heap snapshot ${snapshotFile}): ${heap.liveMb} MB`)
  for (const [kind, mb, count] of heap.largest) {
    console.log(`  ${String(mb).padStart(7)} MB  ${count.toLocaleString().padStart(9)}  ${kind}`)
  }
}

// Where the service's CPU time went, by self time of the profile's nodes.
const profileFile = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
if (profileFile) {
  interface ProfileNode {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
  }
  const profile = JSON.parse(readFileSync(join(profileDir, profileFile), 'utf8')) as {
    nodes: ProfileNode[]
    samples: number[]
    timeDeltas: number[]
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfByFunction = new Map<string, number>()
  const selfByArea = new Map<string, number>()
  let totalTime = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    const dt = profile.timeDeltas[i] ?? 0
    totalTime += dt
    if (!node) return
    const { functionName, url, lineNumber } = node.callFrame
    const area = url.includes('node_modules/')
      ? (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules')
      : url.includes('/src/')
        ? url.slice(url.indexOf('/src/') + 1)
        : functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)'
          ? functionName
          : url === ''
            ? '(native)'
            : 'node internals'
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + dt)
    const name = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + dt)
  })
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => `  ${((100 * t) / totalTime).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n')
  console.log(
    `\nunder the profiler: ${result.ingest_rsvps_per_s_under_profiler?.toLocaleString()} RSVPs/s (a second run, not the figure)`,
  )
  console.log(`\nservice CPU profile (${profileFile}), self time by area:\n${top(selfByArea, 12)}`)
  console.log(`\nhottest functions:\n${top(selfByFunction, 15)}`)
}
writeFileSync(resolve(root, args.out), `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nwritten: ${args.out}; profile: ${profileDir}`)
