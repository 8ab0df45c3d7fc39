/**
 * The clustered stack's chaos scenarios (./dev.sh chaos --cluster), each ending in the verdict of
 * kit.ts like every chaos scenario, against what `./dev.sh up --cluster` started (KAFKA_BROKERS
 * naming all three brokers, DATABASE_READ_URL the replica, REDIS_CLUSTER the cache: `./dev.sh env
 * --cluster`):
 * - kafka-broker-kill (here): a node of the three-node Kafka cluster (stack/kafka-cluster.sh)
 *   killed while RSVPs flow into one `serve`;
 * - pg-replica-stop and redis-master-kill (cluster-read-scenarios.ts): the replica the API reads,
 *   and a master of the Redis Cluster, taken away under checked API load;
 * - ingest-rolling-restart (cluster-rolling-restart.ts): three ingest processes restarted in turn.
 *
 * Besides the verdict, a row's notes give the figures of the fault: here, how long the service
 * made no progress around the kill, how long the producer waited, when the leaders had moved and
 * when the restarted broker was back in sync.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  describeReplicas,
  endOffsets,
  groupCoordinator,
  groupPosition,
  type PartitionReplicas,
  topicSettings,
} from '../src/kafka/client.ts'
import { stackConfig } from '../test/helpers.ts'
import { waitFor } from '../test/support/http.ts'
import { createIngestFixture, startCommand } from '../test/support/ingest-harness.ts'
import {
  clusterServiceEnv,
  messagesTaken,
  requireThreeBrokers,
  SESSION,
  sample,
  seconds,
  stackFunction,
  timedProduce,
} from './cluster-kit.ts'
import { pgReplicaStop, redisMasterKill } from './cluster-read-scenarios.ts'
import { ingestRollingRestart } from './cluster-rolling-restart.ts'
import { counted, generated, type Scenario, verdict } from './kit.ts'
import { longestPartitionStall, longestStall } from './stall-figures.ts'

const RESULTS = new URL('./results/', import.meta.url)
const RATE = 5000

/** kafka_broker_kill or kafka_broker_start of stack/kafka-cluster.sh, on node `node` (1, 2 or 3). */
async function clusterNode(action: 'kill' | 'start', node: number): Promise<void> {
  await stackFunction(`kafka_broker_${action}`, String(node))
}

/** The partitions whose replicas are not `count` in number, or not all in sync. */
function notReplicated(partitions: readonly PartitionReplicas[], count: number): number[] {
  return partitions.filter((p) => p.replicas.length !== count || p.isr.length !== count).map((p) => p.partition)
}

const brokerKill: Scenario = {
  name: 'kafka-broker-kill',
  summary:
    "the Kafka broker that coordinates the service's group killed with SIGKILL mid-stream and started again 20 s later, 200,000 RSVPs (quick: 40,000, started again once the ingest has taken 5,000 more)",
  async run({ scope, size, log }) {
    const kafka = stackConfig().kafka
    await requireThreeBrokers(kafka)
    const fixture = await createIngestFixture(scope)
    const notes: string[] = []
    // The service's topics, as ensureTopics made them: 3 replicas, of which 2 must be in sync.
    const replicas = await describeReplicas(kafka, fixture.topic)
    const settings = await topicSettings(kafka, fixture.topic, ['min.insync.replicas'])
    if (replicas.length === 0 || notReplicated(replicas, 3).length > 0) {
      notes.push(`the topic is not replicated 3 times: ${JSON.stringify(replicas)}`)
    }
    if (settings['min.insync.replicas'] !== '2') {
      notes.push(`the topic's min.insync.replicas is ${settings['min.insync.replicas']}, not 2`)
    }
    const messages = generated(size === 'full' ? 200_000 : 40_000, 111)
    const service = await startCommand(fixture, 'serve', { ...SESSION, ...clusterServiceEnv(fixture) })
    await service.ready()
    const taken = sample(100, () => messagesTaken(service))
    const positions = sample(500, () => groupPosition(kafka, fixture.groupId, fixture.topic))
    const producing = timedProduce(fixture, messages, 1000, RATE)
    let stopSamplers = true
    // a node killed and not started again (the scenario failed on the way) is started at the end
    let down: number | undefined
    try {
      await counted(fixture, size === 'full' ? 20_000 : 5000)
      // The group's coordinator: its loss moves the group (offset commits, heartbeats) as well as
      // the partitions it leads, and perhaps the controller quorum's leader.
      const victim = await groupCoordinator(kafka, fixture.groupId)
      const led = (await describeReplicas(kafka, fixture.topic)).filter((p) => p.leader === victim)
      const takenAtKill = (await messagesTaken(service)) ?? 0
      const killedAt = performance.now()
      down = victim
      await clusterNode('kill', victim)
      log(
        `node ${victim} killed at ${new Date().toISOString()} (the group's coordinator; leader of partitions ${led.map((p) => p.partition)})`,
      )
      // Every partition led by a live broker again, the ISR without the dead one.
      const moved = await waitFor(
        'leaders on the live brokers',
        async () => {
          const now = await describeReplicas(kafka, fixture.topic)
          return now.length > 0 && now.every((p) => p.leader >= 0 && p.leader !== victim && !p.isr.includes(victim))
            ? performance.now()
            : undefined
        },
        120_000,
      )
      log(`leaders moved and the ISR shrank ${seconds(moved - killedAt)} after the kill`)
      if (size === 'full') await sleep(Math.max(0, 20_000 - (performance.now() - killedAt)))
      else {
        await waitFor(
          'the ingest to go on without the broker',
          async () => (((await messagesTaken(service)) ?? 0) >= takenAtKill + 5000 ? true : undefined),
          300_000,
        )
      }
      const restartAt = performance.now()
      log(`starting node ${victim} again at ${new Date().toISOString()}`)
      await clusterNode('start', victim)
      down = undefined
      const registered = performance.now()
      log(`node ${victim} started again and registered in ${seconds(registered - restartAt)}`)
      const inSync = await waitFor(
        'all 3 replicas in sync again',
        async () =>
          notReplicated(await describeReplicas(kafka, fixture.topic), 3).length === 0 ? performance.now() : undefined,
        300_000,
      )
      log(`all replicas in sync ${seconds(inSync - restartAt)} after the restart began`)
      const sends = await producing
      const recoveryFrom = performance.now()
      const row = await verdict('kafka-broker-kill', fixture, messages, {
        recoveryFrom,
        restarts: 0,
        size,
        notes,
        running: [service],
      })
      await taken.stop()
      await positions.stop()
      stopSamplers = false
      // The figures: around the kill is from the kill to the restart.
      const stall = longestStall(taken.samples, killedAt, restartAt)
      const partition = longestPartitionStall(positions.samples, killedAt, restartAt)
      const longestSend = Math.max(0, ...sends.filter((s) => s.at + s.ms >= killedAt).map((s) => s.ms))
      const ends = await endOffsets(kafka, fixture.topic)
      const records = [...ends.values()].reduce((sum, end) => sum + Number(end), 0)
      const figures = [
        `killed node ${victim} at ${new Date(performance.timeOrigin + killedAt).toISOString()} (group coordinator, led ${led.length} of ${replicas.length} partitions)`,
        `service without progress (no message taken): ${seconds(stall)} at most, from the kill to the restart`,
        `worst partition without a commit while messages waited: ${seconds(partition.ms)} (partition ${partition.partition})`,
        `producer's longest send (acks=all) after the kill: ${seconds(longestSend)}`,
        `leaders moved ${seconds(moved - killedAt)} after the kill; broker down ${seconds(restartAt - killedAt)}; registered again in ${seconds(registered - restartAt)}; 3 replicas in sync ${seconds(inSync - restartAt)} after the restart began`,
        `records in the topic: ${records} for ${messages.length} sent (${records - messages.length} duplicates)`,
      ]
      for (const figure of figures) log(figure)
      // What the service logged through the fault (its level: TEST_INGEST_LOG_LEVEL, default warn).
      mkdirSync(RESULTS, { recursive: true })
      writeFileSync(new URL('kafka-broker-kill.service.log', RESULTS), service.output())
      return { ...row, notes: [...row.notes, ...figures] }
    } finally {
      if (stopSamplers) {
        await taken.stop()
        await positions.stop()
      }
      await producing.catch(() => {})
      if (down !== undefined) {
        log(`starting node ${down} again`)
        await clusterNode('start', down).catch((error: unknown) => log(`node ${down} did not start: ${error}`))
      }
    }
  },
}

export const clusterScenarios: readonly Scenario[] = [brokerKill, pgReplicaStop, redisMasterKill, ingestRollingRestart]
