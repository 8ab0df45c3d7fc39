/**
 * The demo that `./dev.sh demo` runs once the stack is up: a fresh database and topic, the service
 * (`rsvp-topk serve`), a generated stream sent at a visible rate (`rsvp-topk produce`), and the
 * live top 10 printed as it changes (the live page's URL is printed first, to follow it in a
 * browser). At the end the top 10 is checked against an independent computation of the counting
 * contract over the same generated stream.
 *
 *   node scripts/demo.ts           runs until Ctrl-C, then stops what it started
 *   node scripts/demo.ts --once    exits 0 once the top 10 matches the stream (1 if it does not)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createFreshDatabase, type FreshDatabase } from '../bench/support.ts'
import { loadConfig } from '../src/config.ts'
import { deleteTopics } from '../src/kafka/client.ts'
import { generateStream } from '../src/producer/generator.ts'
import { computeExpected, topK } from '../test/support/contract-oracle.ts'

const BIN = fileURLToPath(new URL('../bin/rsvp-topk.js', import.meta.url))

const { values: flags } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    messages: { type: 'string' },
    rate: { type: 'string' },
    seed: { type: 'string', default: '2026' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write(`Usage: ./dev.sh demo [--once] [--messages N] [--rate R] [--seed S]
  --once        stop after checking the final top 10 against the stream (exit 0 when it matches)
  --messages N  generated RSVP messages (default 300000, or 40000 with --once)
  --rate R      messages per second (default 3000, or 10000 with --once)
  --seed S      the generated stream's seed (default 2026)
`)
  process.exit(0)
}

const interactive = !flags.once
const messages = positiveInteger('--messages', flags.messages ?? (interactive ? '300000' : '40000'))
const rate = positiveInteger('--rate', flags.rate ?? (interactive ? '3000' : '10000'))
const seed = positiveInteger('--seed', flags.seed)
const streamOptions = {
  count: messages,
  seed,
  events: 5000,
  groups: 800,
  startMtime: Date.UTC(2026, 10, 16),
  spanDays: 7,
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) {
    process.stderr.write(`demo: ${name} must be a positive integer, not ${JSON.stringify(text)}\n`)
    process.exit(2)
  }
  return value
}

const say = (line = '') => process.stdout.write(`${line}\n`)

const config = loadConfig()
const suffix = Date.now().toString(36)
const database = `rsvp_topk_demo_${suffix}`
const topic = `rsvps-demo-${suffix}`
const base = `http://${config.http.host}:${config.http.port}`
const children: ChildProcess[] = []
let demoDatabase: FreshDatabase | undefined
// Ctrl-C ends the demo at any point; the terminal sends it to the children too, and they stop cleanly.
const interrupted = new AbortController()
process.once('SIGINT', () => interrupted.abort())
const pause = (ms: number) => sleep(ms, undefined, { signal: interrupted.signal })

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { child, output: () => output }
}

interface TopEvent {
  rank: number
  event_id: string
  yes_rsvps: number
  attendees: number
  name: string | null
  group: { city: string | null; country: string | null } | null
}

async function topTen(): Promise<TopEvent[]> {
  const response = await fetch(`${base}/api/v1/events/topk?k=10`)
  if (!response.ok) throw new Error(`top k answered ${response.status}`)
  return ((await response.json()) as { events: TopEvent[] }).events
}

function printTable(title: string, events: readonly TopEvent[]): void {
  say()
  say(title)
  say(' rank    yes  attendees  event')
  for (const event of events) {
    const place = event.group ? ` (${event.group.city ?? '?'}, ${(event.group.country ?? '?').toUpperCase()})` : ''
    const name = (event.name ?? event.event_id).replace(/\s+/g, ' ').slice(0, 60)
    say(
      `${String(event.rank).padStart(5)} ${String(event.yes_rsvps).padStart(6)} ${String(event.attendees).padStart(10)}  ${name}${place}`,
    )
  }
  if (events.length === 0) say('  (no event has a yes yet)')
}

async function waitReady(service: { child: ChildProcess; output: () => string }): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) throw new Error(`rsvp-topk serve exited:\n${service.output()}`)
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) return
    await sleep(200)
  }
  throw new Error(`rsvp-topk serve was not ready within 60 s:\n${service.output()}`)
}

async function cleanUp(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await Promise.race([once(child, 'exit'), sleep(10_000)])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }
  await demoDatabase?.drop().catch((error: unknown) => {
    process.stderr.write(`demo: could not drop the database ${database}: ${String(error)}\n`)
  })
  await deleteTopics(config.kafka, [topic, `${topic}.dlq`]).catch((error: unknown) => {
    process.stderr.write(`demo: could not delete the topic ${topic}: ${String(error)}\n`)
  })
}

async function main(): Promise<boolean> {
  say(`demo: the live page: ${base}/ (open it in a browser; it follows the ranking as it changes)`)
  say(
    `demo: database ${database}, topic ${topic}, ${messages.toLocaleString('en')} messages at ${rate.toLocaleString('en')}/s`,
  )
  demoDatabase = await createFreshDatabase(config, database)
  const env = {
    DATABASE_URL: demoDatabase.url,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `demo-${suffix}`,
    LOG_LEVEL: 'warn',
  }
  const service = start(['serve'], env)
  await waitReady(service)
  say(`demo: the service is up at ${base}`)

  const producer = start(
    [
      'produce',
      '--generate',
      String(messages),
      '--seed',
      String(seed),
      '--rate',
      String(rate),
      '--topic',
      topic,
      '--events',
      String(streamOptions.events),
      '--groups',
      String(streamOptions.groups),
      '--start',
      String(streamOptions.startMtime),
      '--span-days',
      String(streamOptions.spanDays),
    ],
    env,
  )
  const expected = computeExpected(
    (function* () {
      for (const message of generateStream(streamOptions)) yield message.value
    })(),
  )
  const want = topK(expected, 10)

  let shown = ''
  const sameAsWanted = (events: readonly TopEvent[]) =>
    events.length === want.length &&
    events.every((e, i) => e.event_id === want[i]?.eventId && e.yes_rsvps === want[i]?.yes)
  const startedAt = Date.now()
  let producerDone = false
  void once(producer.child, 'exit').then(() => {
    producerDone = true
  })
  for (;;) {
    await pause(interactive ? 3000 : 1000)
    if (service.child.exitCode !== null) throw new Error(`rsvp-topk serve stopped:\n${service.output()}`)
    const events = await topTen()
    const key = JSON.stringify(events.map((e) => [e.event_id, e.yes_rsvps]))
    if (key !== shown) {
      shown = key
      printTable(
        `top 10 after ${((Date.now() - startedAt) / 1000).toFixed(0)} s${producerDone ? '' : ' (still producing)'}:`,
        events,
      )
    }
    if (producerDone && sameAsWanted(events)) break
    if (producerDone && producer.child.exitCode !== 0)
      throw new Error(`rsvp-topk produce failed:\n${producer.output()}`)
    if (producerDone && Date.now() - startedAt > (messages / rate) * 1000 + 120_000) {
      printTable(
        'expected top 10 (computed from the generated stream):',
        want.map((w, i) => ({
          rank: i + 1,
          event_id: w.eventId,
          yes_rsvps: w.yes,
          attendees: w.attendees,
          name: null,
          group: null,
        })),
      )
      say('demo: the service did not reach the expected top 10 in time')
      return false
    }
  }
  say()
  say(`demo: the top 10 matches the counting contract over the ${messages.toLocaleString('en')} generated messages ✓`)
  say(producer.output().trim().split('\n').at(-1) ?? '')
  say()
  say(`  live page  ${base}/`)
  say(`  top 10     ${base}/api/v1/events/topk?k=10`)
  say(`  an event   ${base}/api/v1/events/${encodeURIComponent(want[0]?.eventId ?? '')}`)
  say(`  API docs   ${base}/docs`)
  say(`  metrics    ${base}/metrics`)
  if (interactive) {
    say('\nThe service keeps running; press Ctrl-C to stop it.')
    await pause(2 ** 31 - 1).catch(() => {})
  }
  return true
}

let ok = false
try {
  ok = await main()
} catch (error) {
  if (interrupted.signal.aborted) say('\ndemo: interrupted')
  else process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`)
} finally {
  say('demo: stopping what it started')
  await cleanUp()
}
process.exit(ok ? 0 : interrupted.signal.aborted ? 130 : 1)
