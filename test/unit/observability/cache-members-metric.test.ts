import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createApiMetrics, createRegistry } from '../../../src/observability/metrics.ts'

/** The samples of rsvp_topk_cache_ring_member, as { node: value }. */
async function members(registry: ReturnType<typeof createRegistry>): Promise<Record<string, number>> {
  const samples: Record<string, number> = {}
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^rsvp_topk_cache_ring_member\{node="([^"]+)"\} (\S+)$/.exec(line)
    if (match?.[1] !== undefined) samples[match[1]] = Number(match[2])
  }
  return samples
}

test('rsvp_topk_cache_ring_member should name the current members only (a cluster swaps its seeds for its masters)', async () => {
  const registry = createRegistry()
  let current = [
    { id: 'redis-seed.internal:6379', healthy: false },
    { id: 'redis-seed-2.internal:6379', healthy: false },
  ]
  createApiMetrics(registry, () => current)
  assert.deepEqual(await members(registry), { 'redis-seed.internal:6379': 0, 'redis-seed-2.internal:6379': 0 })
  current = [
    { id: '10.0.0.1:6379', healthy: true },
    { id: '10.0.0.2:6379', healthy: false },
    { id: '10.0.0.3:6379', healthy: true },
  ]
  assert.deepEqual(await members(registry), { '10.0.0.1:6379': 1, '10.0.0.2:6379': 0, '10.0.0.3:6379': 1 })
})
