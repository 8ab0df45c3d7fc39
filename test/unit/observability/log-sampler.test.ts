import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogSampler } from '../../../src/observability/log-sampler.ts'

test('createLogSampler should let a few lines of a kind through per interval and count the rest', () => {
  let time = 0
  const sampler = createLogSampler({ perInterval: 2, intervalMs: 1000, now: () => time })
  assert.deepEqual(sampler.take('bad'), { log: true, suppressed: 0 })
  assert.deepEqual(sampler.take('bad'), { log: true, suppressed: 0 })
  assert.deepEqual(sampler.take('bad'), { log: false, suppressed: 0 })
  assert.deepEqual(sampler.take('bad'), { log: false, suppressed: 0 })
  assert.deepEqual(sampler.take('other'), { log: true, suppressed: 0 }, 'kinds are counted apart')
  time += 1000
  assert.deepEqual(sampler.take('bad'), { log: true, suppressed: 2 }, 'the next line says what was held back')
  assert.deepEqual(sampler.take('bad'), { log: true, suppressed: 0 })
})
