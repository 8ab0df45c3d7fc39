// Readiness probe of the local Kafka cluster for ./dev.sh (stack/kafka-cluster.sh). Exits 0 once
// a metadata request, asked of the listed brokers, names `count` live brokers; with --replicated it
// then creates a probe topic of 3 partitions with `count` replicas each, waits until every
// partition has a leader and all `count` replicas in sync, and deletes it again.
// Usage: node stack/kafka-cluster-ready.ts HOST:PORT[,HOST:PORT…] COUNT [timeoutSeconds] [--replicated]
import { Admin } from '@platformatic/kafka'

const args = process.argv.slice(2)
const replicated = args.includes('--replicated')
const [brokerList, countArg, timeoutArg] = args.filter((arg) => arg !== '--replicated')
const count = Number(countArg)
if (!brokerList || !Number.isInteger(count) || count < 1) {
  console.error('usage: node stack/kafka-cluster-ready.ts HOST:PORT[,HOST:PORT…] COUNT [timeoutSeconds] [--replicated]')
  process.exit(2)
}
const brokers = brokerList.split(',')
const deadline = Date.now() + Number(timeoutArg ?? 90) * 1000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let lastProblem = 'no answer yet'

/** Asks until `check` returns true or the deadline passes; false when it passed. */
async function until(check: (admin: Admin) => Promise<boolean>): Promise<boolean> {
  while (Date.now() < deadline) {
    const admin = new Admin({ clientId: 'rsvp-topk-ready', bootstrapBrokers: brokers, timeout: 3000, retries: 0 })
    try {
      if (await check(admin)) return true
    } catch (error) {
      lastProblem = (error as Error).message
    } finally {
      await admin.close().catch(() => {})
    }
    await sleep(250)
  }
  return false
}

// A fenced broker (not yet heartbeating to the controller, or killed) is not in the metadata.
const registered = await until(async (admin) => {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true })
  lastProblem = `${metadata.brokers.size} of ${count} brokers registered`
  return metadata.brokers.size >= count
})
if (!registered) fail()

if (replicated) {
  const topic = `__rsvp-topk-ready-${process.pid}`
  const created = await until(async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({ topics: [topic], partitions: 3, replicas: count })
    }
    const partitions = (await admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitions
    const short = (partitions ?? []).filter((p) => p.leader < 0 || p.isr.length < count).length
    lastProblem = `probe topic ${topic}: ${partitions === undefined ? 'not in the metadata' : `${short} of 3 partitions without a leader or without ${count} replicas in sync`}`
    return partitions !== undefined && partitions.length === 3 && short === 0
  })
  await until(async (admin) => {
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] })
    return true
  })
  if (!created) fail()
}
process.exit(0)

function fail(): never {
  console.error(`kafka at ${brokerList} is not ready: ${lastProblem}`)
  process.exit(1)
}
