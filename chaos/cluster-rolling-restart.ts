/**
 * A rolling restart of the ingest on the clustered stack (./dev.sh chaos --cluster): three
 * `rsvp-topk ingest` processes in one consumer group, each stopped with SIGTERM and started again
 * in turn while the stream flows, ending in the verdict of kit.ts. Its figures are the cost of
 * each restart's two rebalances (the member leaving, the new one joining): how long the group as a
 * whole committed nothing while messages waited, sampled from the group's committed offsets.
 *
 * The group is a classic one with dynamic members: @platformatic/kafka 2.12 takes a
 * `groupInstanceId` (static membership), but its close() always sends LeaveGroup by member id,
 * which makes the broker rebalance anyway; SCALING.md and the README say more.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { groupCoverage, groupPosition } from '../src/kafka/client.ts'
import { stackConfig } from '../test/helpers.ts'
import { waitFor } from '../test/support/http.ts'
import { createIngestFixture, type IngestProcess, startCommand } from '../test/support/ingest-harness.ts'
import {
  groupRebalances,
  type Rebalance,
  requireThreeBrokers,
  SESSION,
  sample,
  seconds,
  timedProduce,
} from './cluster-kit.ts'
import { counted, generated, type Scenario, terminate, verdict } from './kit.ts'
import { longestGroupStall, longestPartitionStall } from './stall-figures.ts'

const MEMBERS = 3
const RESULTS = new URL('./results/', import.meta.url)

interface Restart {
  readonly member: number
  /** SIGTERM sent */
  readonly term: number
  /** the old process exited */
  readonly exited: number
  /** the new process answered /readyz 200 (it has joined the group) */
  readonly ready: number
  readonly process: IngestProcess
  /** the group stable again with every partition owned */
  readonly stable: number
}

export const ingestRollingRestart: Scenario = {
  name: 'ingest-rolling-restart',
  summary:
    '3 ingest processes in one group, each restarted in turn (SIGTERM, start, ready, group stable) while 500,000 RSVPs flow at 5,000/s, with the time the group committed nothing during each restart (quick: 100,000 at 2,500/s)',
  async run({ scope, size, log }) {
    const kafka = stackConfig().kafka
    await requireThreeBrokers(kafka)
    const fixture = await createIngestFixture(scope)
    const full = size === 'full'
    const messages = generated(full ? 500_000 : 100_000, 123)
    // At info the log says when a process started and joined the group (a few lines per process).
    const env = { ...SESSION, LOG_LEVEL: process.env.TEST_INGEST_LOG_LEVEL ?? 'info' }
    const members: IngestProcess[] = []
    for (let i = 0; i < MEMBERS; i++) members.push(await startCommand(fixture, 'ingest', env))
    // every process's output, the restarted ones too (TEST_INGEST_LOG_LEVEL=info or debug for more)
    const all = [...members]
    await Promise.all(members.map((member) => member.ready()))
    const settledGroup = (what: string) =>
      waitFor(
        what,
        async () => {
          const coverage = await groupCoverage(kafka, fixture.groupId, fixture.topic)
          return coverage.stable && coverage.partitions > 0 && coverage.unowned.length === 0
            ? performance.now()
            : undefined
        },
        180_000,
      )
    await settledGroup('the group stable with every partition owned')
    const positions = sample(250, () => groupPosition(kafka, fixture.groupId, fixture.topic))
    const began = performance.now()
    const producing = timedProduce(fixture, messages, 1000, full ? 5000 : 2500)
    const notes: (string | undefined)[] = []
    const restarts: Restart[] = []
    try {
      await counted(fixture, full ? 20_000 : 5000)
      for (let i = 0; i < MEMBERS; i++) {
        const term = performance.now()
        notes.push(await terminate(members[i] as IngestProcess, `member ${i}`))
        const exited = performance.now()
        const next = await startCommand(fixture, 'ingest', env)
        all.push(next)
        await next.ready()
        members[i] = next
        const ready = performance.now()
        const stable = await settledGroup('the group stable again with every partition owned')
        restarts.push({ member: i, term, exited, ready, stable, process: next })
        log(
          `member ${i} restarted: exit ${seconds(exited - term)}, start to ready ${seconds(ready - exited)}, group stable ${seconds(stable - ready)} later`,
        )
        // Apart, so that each restart's figures are its own.
        await sleep(full ? 5000 : 2000)
      }
    } finally {
      await producing.catch(() => {})
    }
    const sends = await producing
    const recoveryFrom = performance.now()
    const row = await verdict('ingest-rolling-restart', fixture, messages, {
      recoveryFrom,
      restarts: restarts.length,
      size,
      notes,
      running: members,
    })
    await positions.stop()
    const ended = performance.now()
    const first = restarts[0]?.term ?? ended
    const lastSend = sends.at(-1)?.at ?? began
    const rebalances = groupRebalances(fixture.groupId)
    const epoch = (at: number) => performance.timeOrigin + at
    const during = (r: Restart) =>
      rebalances.filter((b) => b.at >= epoch(r.term) - 1000 && b.at <= epoch(r.stable) + 1000)
    const describe = (list: readonly Rebalance[]) =>
      list.length === 0
        ? 'none'
        : list.map((b) => `${b.reason} ${b.ms === undefined ? '(not stabilized)' : seconds(b.ms)}`).join(', ')
    const figures = [
      `before the first restart (${seconds(first - began)} of flow): the group committed nothing while messages waited for ${seconds(longestGroupStall(positions.samples, began, first - 1000))} at most (the sampling is every 250 ms)`,
      ...restarts.map((r) => {
        const worst = longestPartitionStall(positions.samples, r.term, r.stable)
        const started = logTime(r.process, 'starting')
        const joined = logTime(r.process, 'joined the consumer group')
        const startup =
          started === undefined || joined === undefined
            ? ''
            : ` (Node start-up ${seconds(started - epoch(r.exited))}, then joined ${seconds(joined - started)} later)`
        return `restart of member ${r.member}: the group committed nothing while messages waited for ${seconds(longestGroupStall(positions.samples, r.term, r.stable))}; worst partition ${seconds(worst.ms)}; SIGTERM to exit ${seconds(r.exited - r.term)}, start to ready ${seconds(r.ready - r.exited)}${startup}, ready to group stable ${seconds(r.stable - r.ready)}; rebalances (coordinator's log, PreparingRebalance to Stabilized): ${describe(during(r))}${r.term > lastSend ? ' (after the last send: little or nothing waited)' : ''}`
      }),
      `producer's longest send: ${seconds(Math.max(0, ...sends.map((s) => s.ms)))}; stream ${seconds(lastSend - began)} long`,
    ]
    for (const figure of figures) log(figure)
    mkdirSync(RESULTS, { recursive: true })
    writeFileSync(
      new URL('ingest-rolling-restart.service.log', RESULTS),
      all
        .map((p, i) => `== process ${i} (member ${i % MEMBERS}${i < MEMBERS ? '' : ', restarted'})\n${p.output()}`)
        .join('\n'),
    )
    return { ...row, notes: [...row.notes, ...figures] }
  },
}

/** When a process logged `message` first (its JSON log's time, epoch ms), if it did. */
function logTime(process: IngestProcess, message: string): number | undefined {
  for (const line of process.output().split('\n')) {
    if (!line.includes(`"msg":"${message}"`)) continue
    try {
      return (JSON.parse(line) as { time: number }).time
    } catch {}
  }
  return undefined
}
