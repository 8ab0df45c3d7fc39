import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createHealth, readinessChange } from '../../../src/observability/health.ts'

function clock(start = Date.UTC(2026, 10, 29)) {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('createHealth', () => {
  test('should be unready, naming each dependency it waits for, until each first answers', () => {
    const time = clock()
    const health = createHealth({ dependencies: ['postgres', 'kafka'], graceMs: 30_000, now: time.now })
    health.failed('postgres', new Error('connect ECONNREFUSED 127.0.0.1:25432'))
    let report = health.readiness()
    assert.equal(report.ready, false)
    assert.deepEqual(report.missing, ['postgres', 'kafka'])
    assert.equal(report.dependencies.postgres?.status, 'waiting')
    assert.equal(report.dependencies.postgres?.error, 'connect ECONNREFUSED 127.0.0.1:25432')
    health.up('postgres')
    report = health.readiness()
    assert.deepEqual(report.missing, ['kafka'])
    assert.deepEqual(report.dependencies.postgres, { status: 'up' })
    health.up('kafka')
    assert.equal(health.readiness().ready, true)
  })

  test('should stay ready through a failure shorter than the grace period, and not after it', () => {
    const time = clock()
    const health = createHealth({ dependencies: ['postgres'], graceMs: 30_000, now: time.now })
    health.up('postgres')
    health.failed('postgres', new Error('Connection terminated unexpectedly'))
    time.advance(29_000)
    health.failed('postgres', new Error('connect ECONNREFUSED'))
    let report = health.readiness()
    assert.equal(report.ready, true)
    assert.equal(report.dependencies.postgres?.status, 'failing')
    time.advance(1001)
    report = health.readiness()
    assert.equal(report.ready, false)
    assert.deepEqual(report.missing, ['postgres'])
    assert.equal(report.dependencies.postgres?.status, 'down')
    assert.equal(report.dependencies.postgres?.since, new Date(time.now() - 30_001).toISOString())
    assert.equal(report.dependencies.postgres?.error, 'connect ECONNREFUSED')
  })

  test('should start the grace period again after the dependency answered', () => {
    const time = clock()
    const health = createHealth({ dependencies: ['kafka'], graceMs: 1000, now: time.now })
    health.up('kafka')
    health.failed('kafka', 'x')
    time.advance(900)
    health.up('kafka')
    health.failed('kafka', 'y')
    time.advance(900)
    assert.equal(health.readiness().ready, true)
  })

  test('should ignore dependencies it does not track', () => {
    const health = createHealth({ dependencies: ['postgres'], graceMs: 0 })
    health.up('postgres')
    health.failed('kafka', 'not ours')
    assert.deepEqual(Object.keys(health.readiness().dependencies), ['postgres'])
    assert.equal(health.readiness().ready, true)
  })
})

describe('readinessChange', () => {
  test('should report a change of what is missing once, and nothing for probes that find it as before', () => {
    const probes: string[][] = [
      [],
      ['postgres'],
      ['postgres'],
      ['postgres', 'kafka'],
      ['kafka', 'postgres'],
      ['kafka'],
      [],
      [],
    ]
    const logged: Array<string | undefined> = []
    let before: readonly string[] = []
    for (const missing of probes) {
      logged.push(readinessChange(before, missing))
      before = missing
    }
    assert.deepEqual(logged, [
      undefined,
      'not ready',
      undefined,
      'not ready',
      undefined,
      'not ready',
      'ready',
      undefined,
    ])
  })
})
