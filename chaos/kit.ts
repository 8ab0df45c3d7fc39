/**
 * What every chaos scenario is made of: its own topic, consumer group and database (the test
 * harness's fixture), real `rsvp-topk` processes, faults done to the real stack through
 * ./dev.sh, and one verdict: the database against the counting contract (the oracle) and the
 * dead-letter topic against the oracle's invalid messages.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { type GeneratedMessage, generateStream } from '../src/producer/generator.ts'
import { type Scope, stackConfig } from '../test/helpers.ts'
import { type Expectation, expectationOf, waitForContract } from '../test/support/contract-check.ts'
import { isValidMessage } from '../test/support/contract-oracle.ts'
import { get, metricValue, waitFor } from '../test/support/http.ts'
import { type IngestFixture, type IngestProcess, ROOT, type StreamMessage } from '../test/support/ingest-harness.ts'
import { readDeadLetters } from '../test/support/topic-reader.ts'

const run = promisify(execFile)

export type Size = 'quick' | 'full'

/** One line of the chaos table. */
export interface ChaosRow {
  readonly scenario: string
  /** messages sent to the topic */
  readonly messagesIn: number
  /** messages the service took as valid RSVPs: messages in minus dead-lettered */
  readonly applied: number
  /** distinct messages in the dead-letter topic */
  readonly deadLettered: number
  /** the database equals the contract and the dead letters are exactly the invalid messages */
  readonly exact: boolean
  /** from the end of the last fault and the last message sent, to the state the contract demands */
  readonly recoverySeconds: number
  /** service processes stopped (killed or terminated) and started again */
  readonly restarts: number
  /** what differed, and anything else worth saying */
  readonly notes: readonly string[]
}

export interface ChaosContext {
  readonly scope: Scope
  readonly size: Size
  log(message: string): void
}

export interface Scenario {
  readonly name: string
  /** one line: the fault and the sizes, full and quick */
  readonly summary: string
  run(context: ChaosContext): Promise<ChaosRow>
}

/** A generated stream of realistic RSVPs (resends, flips, stale versions, 1% invalid). */
export function generated(count: number, seed: number): GeneratedMessage[] {
  return [...generateStream({ count, seed, events: 2000, groups: 300, invalidShare: 0.01 })]
}

/** ./dev.sh down|up COMPONENT: a fault done to the real stack, and its repair. */
export async function stack(action: 'up' | 'down', component: 'postgres' | 'kafka' | 'redis'): Promise<void> {
  await run(`${ROOT}/dev.sh`, [action, component], { cwd: ROOT, timeout: 180_000 })
}

/** A sample of a process's /metrics (undefined when it does not answer). */
export async function metric(process: IngestProcess, name: string, labels = ''): Promise<number | undefined> {
  const reply = await get(process.base, '/metrics').catch(() => undefined)
  return reply && reply.status === 200 ? metricValue(reply.text, name, labels) : undefined
}

/** Resolves once the database holds at least `count` RSVPs. */
export async function counted(fixture: IngestFixture, count: number): Promise<void> {
  await waitFor(
    `${count} RSVPs counted`,
    async () => {
      const { rows } = await fixture.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rsvps')
      return (rows[0]?.n ?? 0) >= count ? true : undefined
    },
    600_000,
  )
}

/** Waits for a running process to exit after SIGKILL. */
export async function kill(process: IngestProcess): Promise<void> {
  process.child.kill('SIGKILL')
  await process.exited
}

/** SIGTERM and the exit; a non-zero exit is returned as a note, with the end of what the process logged. */
export async function terminate(process: IngestProcess, name: string): Promise<string | undefined> {
  process.child.kill('SIGTERM')
  const exit = await process.exited
  if (exit.code === 0) return undefined
  return `${name} exited with ${exit.code ?? exit.signal} on SIGTERM; its log ended:\n${process.output().slice(-6000)}`
}

/**
 * The verdict: waits until the database matches the contract for `messages` (or the time is
 * up), then compares the dead-letter topic with the messages the oracle calls invalid.
 * `recoveryFrom` is the performance.now() at which the last fault ended and the last message was
 * sent, whichever came later.
 */
export async function verdict(
  scenario: string,
  fixture: IngestFixture,
  messages: readonly StreamMessage[],
  options: {
    readonly recoveryFrom: number
    readonly restarts: number
    readonly size: Size
    readonly notes?: readonly (string | undefined)[]
    readonly expectation?: Expectation
    /** processes that must still run at the end (one that exited is reported, with its last output) */
    readonly running?: readonly IngestProcess[]
  },
): Promise<ChaosRow> {
  const values = messages.map((m) => m.value)
  const expectation = options.expectation ?? expectationOf(values)
  const { differences } = await waitForContract(fixture.db, expectation, options.size === 'full' ? 900_000 : 240_000)
  const recoverySeconds = (performance.now() - options.recoveryFrom) / 1000
  const invalid = values.filter((value) => !isValidMessage(value))
  const letters = await waitFor(
    'the dead letters',
    async () => {
      const found = await readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`)
      return found.length >= invalid.length ? found : undefined
    },
    60_000,
  ).catch(() => readDeadLetters(stackConfig().kafka, `${fixture.topic}.dlq`))
  const notes: string[] = [...differences]
  const dlqDifference = multisetDifference(
    letters.map((letter) => letter.record.value),
    invalid,
  )
  if (dlqDifference) notes.push(`dead letters: ${dlqDifference}`)
  const unexplained = letters.filter((letter) => !letter.reason)
  if (unexplained.length > 0) notes.push(`${unexplained.length} dead letters without a reason`)
  for (const note of options.notes ?? []) if (note) notes.push(note)
  for (const process of options.running ?? []) {
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      notes.push(
        `a service process exited (${process.child.exitCode ?? process.child.signalCode}): ${process.output().slice(-1500)}`,
      )
    } else if (notes.length > 0) {
      notes.push(`its output ends with: ${process.output().slice(-2000)}`)
    }
  }
  return {
    scenario,
    messagesIn: messages.length,
    applied: messages.length - letters.length,
    deadLettered: letters.length,
    exact: notes.length === 0,
    recoverySeconds: Math.round(recoverySeconds * 10) / 10,
    restarts: options.restarts,
    notes,
  }
}

/** How two lists of message values differ as multisets, or undefined when they do not. */
function multisetDifference(
  got: readonly (Buffer | null)[],
  want: readonly (string | Buffer | null)[],
): string | undefined {
  const id = (value: string | Buffer | null) =>
    value === null ? 'null' : (typeof value === 'string' ? Buffer.from(value) : value).toString('base64')
  const counts = new Map<string, number>()
  for (const value of want) counts.set(id(value), (counts.get(id(value)) ?? 0) + 1)
  let extra = 0
  for (const value of got) {
    const n = counts.get(id(value)) ?? 0
    if (n === 0) extra++
    else counts.set(id(value), n - 1)
  }
  const missing = [...counts.values()].reduce((sum, n) => sum + n, 0)
  return missing === 0 && extra === 0 ? undefined : `${missing} invalid messages missing, ${extra} unexpected`
}
