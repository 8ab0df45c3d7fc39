import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createHealth } from '../../../src/observability/health.ts'
import { createDependencyMetrics, createRegistry } from '../../../src/observability/metrics.ts'

/** The samples of rsvp_topk_dependency_up, as { dependency: value }. */
async function dependencyUp(registry: ReturnType<typeof createRegistry>): Promise<Record<string, number>> {
  const samples: Record<string, number> = {}
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^rsvp_topk_dependency_up\{dependency="([^"]+)"\} (\S+)$/.exec(line)
    if (match?.[1] !== undefined) samples[match[1]] = Number(match[2])
  }
  return samples
}

describe('createDependencyMetrics', () => {
  test('should follow each dependency through waiting, up, failing and down, 1 only while up', async () => {
    let now = Date.UTC(2026, 10, 29)
    const health = createHealth({ dependencies: ['postgres', 'kafka'], graceMs: 30_000, now: () => now })
    const registry = createRegistry()
    const ring = [{ healthy: true }, { healthy: true }, { healthy: true }]
    createDependencyMetrics(registry, { readiness: () => health.readiness(), ringMembers: () => ring })

    assert.deepEqual(await dependencyUp(registry), { postgres: 0, kafka: 0, redis: 1 }, 'waiting is not up')
    health.up('postgres')
    health.up('kafka')
    assert.deepEqual(await dependencyUp(registry), { postgres: 1, kafka: 1, redis: 1 })
    health.failed('postgres', new Error('connect ECONNREFUSED 127.0.0.1:25432'))
    assert.deepEqual(await dependencyUp(registry), { postgres: 0, kafka: 1, redis: 1 }, 'failing, within the grace')
    now += 30_001
    assert.equal(health.readiness().dependencies.postgres?.status, 'down')
    assert.deepEqual(await dependencyUp(registry), { postgres: 0, kafka: 1, redis: 1 }, 'down')
    health.up('postgres')
    assert.deepEqual(await dependencyUp(registry), { postgres: 1, kafka: 1, redis: 1 }, 'back')
  })

  test('should count Redis up while at least one ring node is in the ring', async () => {
    const health = createHealth({ dependencies: ['postgres'], graceMs: 0 })
    health.up('postgres')
    const registry = createRegistry()
    const ring = [{ healthy: false }, { healthy: true }, { healthy: false }]
    createDependencyMetrics(registry, { readiness: () => health.readiness(), ringMembers: () => ring })
    assert.deepEqual(await dependencyUp(registry), { postgres: 1, redis: 1 }, 'an api process has no kafka')
    ring[1] = { healthy: false }
    assert.deepEqual(await dependencyUp(registry), { postgres: 1, redis: 0 })
  })

  test('should wait for a readiness that probes (an async report)', async () => {
    const health = createHealth({ dependencies: ['postgres'], graceMs: 0 })
    const registry = createRegistry()
    let probes = 0
    createDependencyMetrics(registry, {
      readiness: async () => {
        probes++
        await new Promise((resolve) => setImmediate(resolve))
        health.up('postgres')
        return health.readiness()
      },
      ringMembers: () => [],
    })
    assert.deepEqual(await dependencyUp(registry), { postgres: 1 }, 'no ring configured: no redis sample')
    assert.equal(probes, 1, 'one probe per scrape')
  })
})
