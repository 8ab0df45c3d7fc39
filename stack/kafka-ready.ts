// Readiness probe for ./dev.sh: exits 0 once the broker answers a metadata request.
// Usage: node stack/kafka-ready.ts HOST:PORT [timeoutSeconds]
import { Admin } from '@platformatic/kafka'

const [broker, timeoutArg] = process.argv.slice(2)
if (!broker) {
  console.error('usage: node stack/kafka-ready.ts HOST:PORT [timeoutSeconds]')
  process.exit(2)
}
const deadline = Date.now() + Number(timeoutArg ?? 30) * 1000
let lastError: unknown

while (Date.now() < deadline) {
  const admin = new Admin({ clientId: 'rsvp-topk-ready', bootstrapBrokers: [broker], timeout: 2000, retries: 0 })
  try {
    const metadata = await admin.metadata({ topics: [] })
    if (metadata.brokers.size > 0) {
      await admin.close()
      process.exit(0)
    }
  } catch (error) {
    lastError = error
  }
  await admin.close().catch(() => {})
  await new Promise((resolve) => setTimeout(resolve, 250))
}
console.error(`kafka at ${broker} did not answer a metadata request:`, (lastError as Error)?.message ?? 'timeout')
process.exit(1)
