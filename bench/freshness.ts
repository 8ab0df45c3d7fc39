/**
 * Freshness: how long from producing an RSVP until the top-k API shows it, while the service
 * ingests a steady stream. Every 250 ms a probe RSVP goes out for a new
 * event whose group has a topic of its own; the probe is visible when
 * `GET /api/v1/events/topk?k=1&topic=<that topic>` returns it. Polled every 10 ms, so a figure is
 * at most 10 ms late, and it includes the API's answer reuse (TOPK_CACHE_MS) as a user sees it.
 *
 * The rate is either fixed (--rate, default 10,000 RSVPs/s) or a fraction of an ingest capacity
 * measured elsewhere (--capacity <RSVPs/s> [--capacity-fraction 0.3]): a fixed rate near a slow
 * machine's capacity measures the backlog rather than the service, so the suite passes the
 * capacity its own ingest run measured and reports freshness at 30% of it.
 *
 * The same probes measure the live stream too: one `GET /api/v1/events/topk/stream` follows every
 * probe (their groups share a topic), and a probe's pushed freshness is from its send until a
 * pushed ranking holds it (no polling: what a live page sees).
 *
 * Probes start after --warmup-seconds (5) of load: the first seconds of a service just started
 * measure its cold code (not yet optimised) rather than its freshness. The five slowest probes
 * are printed with when they were sent.
 *
 *   eval "$(./dev.sh env)" && node bench/freshness.ts [--rate 10000] [--seconds 30] [--warmup-seconds 5]
 *   eval "$(./dev.sh env)" && node bench/freshness.ts --capacity 50000 [--capacity-fraction 0.3] [--seconds 30]
 *
 * Writes bench/results/freshness.json: freshness_p50_ms, freshness_p99_ms (polled), the pushed
 * freshness_pushed_p50_ms and freshness_pushed_p99_ms, the rate asked for and
 * the rate produced, and the capacity and fraction when the rate came from them.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { createParser } from 'eventsource-parser'
import { loadConfig } from '../src/config.ts'
import { createRawProducer, deleteTopics, ensureTopics } from '../src/kafka/client.ts'
import { generateStream } from '../src/producer/generator.ts'
import { freePort } from '../test/helpers.ts'
import { createFreshDatabase, machine, nonNegativeNumber, peakRssMb, positiveNumber } from './support.ts'

export interface FreshnessResult {
  readonly freshness_p50_ms: number
  readonly freshness_p99_ms: number
  /** the same probes as the live stream pushed them */
  readonly freshness_pushed_p50_ms: number
  readonly freshness_pushed_p99_ms: number
  readonly freshness_probes: number
  /** the rate produced, measured over the producing (not the wait for the last probes) */
  readonly freshness_rate_per_s: number
  readonly freshness_requested_rate_per_s: number
  /** the ingest capacity the rate was derived from, or null for a fixed rate */
  readonly freshness_capacity_rsvps_per_s: number | null
  readonly freshness_capacity_fraction: number | null
  readonly freshness_warmup_seconds: number
  readonly serve_peak_rss_mb: number | undefined
}

/** The load: a fixed rate, or a fraction of a measured ingest capacity. */
export type FreshnessLoad = { readonly rate: number } | { readonly capacity: number; readonly fraction: number }

function rateOf(load: FreshnessLoad): number {
  return Math.max(1, Math.round('rate' in load ? load.rate : load.capacity * load.fraction))
}

function describe(load: FreshnessLoad): string {
  const rate = rateOf(load).toLocaleString('en')
  return 'rate' in load
    ? `${rate} RSVPs/s (fixed)`
    : `${rate} RSVPs/s (${Math.round(load.fraction * 100)}% of the ingest capacity, ${load.capacity.toLocaleString('en')} RSVPs/s)`
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

export async function runFreshnessBench(options: {
  load: FreshnessLoad
  seconds: number
  /** seconds of load before the first probe: a service just started runs cold code and an empty cache */
  warmupSeconds: number
}): Promise<FreshnessResult> {
  const rate = rateOf(options.load)
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' })
  const run = `fresh_${Date.now().toString(36)}`
  const database = await createFreshDatabase(config, run)
  await ensureTopics(config.kafka, [
    { name: run, partitions: 6 },
    { name: `${run}.dlq`, partitions: 6 },
  ])
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const service = spawn(process.execPath, [fileURLToPath(new URL('../bin/rsvp-topk.js', import.meta.url)), 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      KAFKA_TOPIC: run,
      KAFKA_GROUP_ID: run,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const producer = createRawProducer(config.kafka)
  try {
    for (let ready = false; !ready; await sleep(200)) {
      if (service.exitCode !== null) throw new Error('rsvp-topk serve exited')
      ready = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    }
    // Every probe's group has this topic too: one stream follows them all.
    const probesTopic = `${run}-probes`
    const pushedAt = new Map<string, number>()
    const live = await followStream(`${base}/api/v1/events/topk/stream?k=1000&topic=${probesTopic}`, (ranking) => {
      for (const event of ranking.events)
        if (!pushedAt.has(event.event_id)) pushedAt.set(event.event_id, performance.now())
    })
    console.log(
      `freshness: ${describe(options.load)} for ${options.warmupSeconds} s of warm-up, then ${options.seconds} s with a probe every 250 ms …`,
    )
    const warmupTicks = Math.round((options.warmupSeconds * 1000) / 50)
    const stream = generateStream({
      count: rate * (options.seconds + options.warmupSeconds),
      seed: 11,
      startMtime: Date.now() - 86_400_000,
    })
    const tickMs = 50
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000))
    const started = performance.now()
    const latencies: number[] = []
    const pushed: number[] = []
    // Each probe's send time (until Kafka acknowledged it) too: a slow probe whose send was slow was
    // held up before the service could see it (the producer or the broker, not the ingest).
    const slowest: Array<{ ms: number; atSeconds: number; sendMs: number }> = []
    const probes: Promise<void>[] = []
    let ticks = 0
    let sent = 0
    for (;;) {
      const batch = []
      // next(), not for-of: leaving a for-of early would close the generator.
      for (let item = stream.next(); !item.done; item = stream.next()) {
        const message = item.value
        batch.push({
          topic: run,
          key: message.key === undefined ? undefined : Buffer.from(message.key),
          value: Buffer.from(message.value),
        })
        if (batch.length === perTick) break
      }
      if (batch.length === 0) break
      // Steady pacing: each tick's messages go out at its own slot, not in bursts.
      void producer.send(batch)
      sent += batch.length
      if (ticks >= warmupTicks && ticks % (250 / tickMs) === 0) probes.push(probe(ticks))
      ticks++
      const next = started + ticks * tickMs
      await sleep(Math.max(0, next - performance.now()))
    }
    // The rate produced is over the producing only: waiting for the last probes would dilute it.
    const producedSeconds = (performance.now() - started) / 1000
    await Promise.all(probes)

    async function probe(n: number): Promise<void> {
      const topic = `${run}-probe-${n}`
      const message = {
        rsvp_id: 8_000_000_000 + n,
        mtime: Date.now(),
        response: 'yes',
        guests: 0,
        event: { event_id: topic, event_name: `probe ${n}`, event_url: 'https://example.test/probe' },
        group: {
          group_id: 9_000_000 + n,
          group_name: 'probes',
          group_urlname: 'probes',
          group_city: 'Probe',
          group_country: 'us',
          group_lat: 1,
          group_lon: 1,
          group_topics: [
            { urlkey: topic, topic_name: topic },
            { urlkey: probesTopic, topic_name: probesTopic },
          ],
        },
      }
      const sentAt = performance.now()
      await producer.send([
        { topic: run, key: Buffer.from(String(message.rsvp_id)), value: Buffer.from(JSON.stringify(message)) },
      ])
      const sendMs = performance.now() - sentAt
      for (;;) {
        const reply = (await (await fetch(`${base}/api/v1/events/topk?k=1&topic=${topic}`)).json()) as {
          events: unknown[]
        }
        if (reply.events.length === 1) break
        if (performance.now() - sentAt > 30_000) throw new Error(`probe ${n} not visible after 30 s`)
        await sleep(10)
      }
      latencies.push(performance.now() - sentAt)
      slowest.push({ ms: performance.now() - sentAt, atSeconds: (sentAt - started) / 1000, sendMs })
      for (;;) {
        const at = pushedAt.get(topic)
        if (at !== undefined) {
          pushed.push(at - sentAt)
          break
        }
        if (performance.now() - sentAt > 30_000) throw new Error(`probe ${n} not pushed after 30 s`)
        await sleep(10)
      }
    }
    live.close()

    latencies.sort((a, b) => a - b)
    pushed.sort((a, b) => a - b)
    slowest.sort((a, b) => b.ms - a.ms)
    console.log(
      `freshness: slowest probes ${slowest
        .slice(0, 5)
        .map(
          (p) =>
            `${Math.round(p.ms)} ms (sent at ${p.atSeconds.toFixed(1)} s, acknowledged in ${Math.round(p.sendMs)} ms)`,
        )
        .join(', ')}`,
    )
    const result = {
      freshness_p50_ms: Math.round(percentile(latencies, 50)),
      freshness_p99_ms: Math.round(percentile(latencies, 99)),
      freshness_pushed_p50_ms: Math.round(percentile(pushed, 50)),
      freshness_pushed_p99_ms: Math.round(percentile(pushed, 99)),
      freshness_probes: latencies.length,
      freshness_rate_per_s: Math.round(sent / producedSeconds),
      freshness_requested_rate_per_s: rate,
      freshness_capacity_rsvps_per_s: 'capacity' in options.load ? options.load.capacity : null,
      freshness_capacity_fraction: 'capacity' in options.load ? options.load.fraction : null,
      freshness_warmup_seconds: options.warmupSeconds,
      serve_peak_rss_mb: peakRssMb(service.pid),
    }
    console.log(
      `freshness, pushed by the live stream: p50 ${result.freshness_pushed_p50_ms} ms, p99 ${result.freshness_pushed_p99_ms} ms`,
    )
    console.log(
      `freshness: p50 ${result.freshness_p50_ms} ms, p99 ${result.freshness_p99_ms} ms over ${result.freshness_probes} probes at ${result.freshness_rate_per_s.toLocaleString('en')} RSVPs/s produced, asked ${describe(options.load)} (serve peak RSS ${result.serve_peak_rss_mb} MB)`,
    )
    return result
  } finally {
    await producer.close()
    if (service.exitCode === null) {
      service.kill('SIGTERM')
      await once(service, 'exit')
    }
    await database.drop()
    await deleteTopics(config.kafka, [run, `${run}.dlq`])
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const program: Command = new Command('freshness')
    .description(
      'Produce → visible in top k, while `rsvp-topk serve` ingests a steady stream: a probe RSVP every 250 ms, polled with topk?k=1&topic=… every 10 ms and followed on the live stream.',
    )
    .option('--rate <n>', 'a fixed rate in RSVPs/s (default 10000 when --capacity is not given)', positiveNumber)
    .option(
      '--capacity <n>',
      'an ingest capacity in RSVPs/s measured elsewhere; the rate is a fraction of it',
      positiveNumber,
    )
    .option(
      '--capacity-fraction <f>',
      'with --capacity: the share of it to produce, at most 1 (default 0.3)',
      positiveNumber,
    )
    .option('--seconds <n>', 'seconds of probes', positiveNumber, 30)
    .option('--warmup-seconds <n>', 'seconds of load before the first probe', nonNegativeNumber, 5)
    .addHelpText('after', '\nRun inside eval "$(./dev.sh env)". Writes bench/results/freshness.json (BENCHMARKS.md).')
    .parse()
  const opts = program.opts<{
    rate?: number
    capacity?: number
    capacityFraction?: number
    seconds: number
    warmupSeconds: number
  }>()
  const load = loadFromOptions(opts)
  if (typeof load === 'string') program.error(`error: ${load}`)
  const result = await runFreshnessBench({ load, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds })
  const file = fileURLToPath(new URL('./results/freshness.json', import.meta.url))
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine() }, null, 2)}\n`)
  console.log('written: bench/results/freshness.json')
}

/** Follows a live top-k stream, handing each ranking to `onRanking`, until close(). */
async function followStream(
  url: string,
  onRanking: (ranking: { events: Array<{ event_id: string }> }) => void,
): Promise<{ close(): void }> {
  const abort = new AbortController()
  const response = await fetch(url, { signal: abort.signal })
  if (!response.ok || response.body === null) throw new Error(`the live stream answered ${response.status}`)
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === 'ranking') onRanking(JSON.parse(event.data))
    },
  })
  const body = response.body
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }))
  })().catch(() => {})
  return { close: () => abort.abort() }
}

/**
 * --rate alone (default 10,000), or --capacity with an optional --capacity-fraction (default 0.3);
 * not both. A string says what is wrong with the combination.
 */
function loadFromOptions(opts: {
  rate?: number
  capacity?: number
  capacityFraction?: number
}): FreshnessLoad | string {
  if (opts.capacity === undefined) {
    if (opts.capacityFraction !== undefined) return '--capacity-fraction needs --capacity'
    return { rate: opts.rate ?? 10_000 }
  }
  if (opts.rate !== undefined) return 'give --rate or --capacity, not both'
  const fraction = opts.capacityFraction ?? 0.3
  if (fraction > 1) return '--capacity-fraction must be at most 1'
  return { capacity: opts.capacity, fraction }
}
