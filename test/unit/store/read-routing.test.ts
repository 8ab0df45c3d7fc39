import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  chooseFreshTarget,
  chooseReadTarget,
  parseLsn,
  type ReplicaView,
  UnreplayedBatches,
} from '../../../src/store/read-routing.ts'

const well: ReplicaView = { reachable: true, inRecovery: true, lagSeconds: 0, unreplayedSeconds: 0 }
const rules = { configured: true, maxLagSeconds: 5 }

describe('parseLsn', () => {
  test('should read pg_lsn text into numbers that compare as WAL positions do', () => {
    assert.equal(parseLsn('0/0'), 0n)
    assert.equal(parseLsn('0/3000148'), 0x3000148n)
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n)
    assert.equal(parseLsn('FFFFFFFF/FFFFFFFF'), 2n ** 64n - 1n)
    // The low half is compared as a number, not as text: 1/A0 is after 0/FFFFFFFF.
    assert.ok((parseLsn('1/A0') as bigint) > (parseLsn('0/FFFFFFFF') as bigint))
    assert.ok((parseLsn('0/10') as bigint) > (parseLsn('0/F') as bigint))
  })

  test('should refuse anything else', () => {
    for (const text of [
      undefined,
      null,
      12,
      '',
      '0',
      '0/',
      '/0',
      '1/2/3',
      '0/123456789',
      'G/0',
      ' 0/1',
      '0/1 ',
      '-1/0',
    ]) {
      assert.equal(parseLsn(text), undefined, String(text))
    }
  })
})

describe('chooseReadTarget', () => {
  test('should read the replica while it answers, is in recovery and is not too far behind', () => {
    assert.deepEqual(chooseReadTarget(well, rules), { target: 'replica' })
    assert.deepEqual(chooseReadTarget({ ...well, lagSeconds: 5, unreplayedSeconds: 5 }, rules), { target: 'replica' })
  })

  test('should read the primary without a replica, or before its first check', () => {
    assert.equal(chooseReadTarget(well, { ...rules, configured: false }).target, 'primary')
    const unchecked = chooseReadTarget(undefined, rules)
    assert.equal(unchecked.target, 'primary')
    assert.match((unchecked as { reason: string }).reason, /not been checked/)
  })

  test('should read the primary, saying why, when the replica does not answer or does not follow', () => {
    const down = chooseReadTarget({ ...well, reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:25533' }, rules)
    assert.deepEqual(down, {
      target: 'primary',
      reason: 'the replica does not answer (connect ECONNREFUSED 127.0.0.1:25533)',
    })
    const promoted = chooseReadTarget({ ...well, inRecovery: false }, rules)
    assert.equal(promoted.target, 'primary')
    assert.match((promoted as { reason: string }).reason, /not in recovery/)
  })

  test('should read the primary when the replica lags, by its own replay lag or by batches it has not replayed', () => {
    const lagging = chooseReadTarget({ ...well, lagSeconds: 5.2 }, rules)
    assert.deepEqual(lagging, {
      target: 'primary',
      reason: 'the replica is 5.2 s behind (REPLICA_MAX_LAG_SECONDS 5)',
    })
    // A replica cut off from its primary has replayed all it received (lag 0), yet misses batches.
    const cutOff = chooseReadTarget({ ...well, lagSeconds: 0, unreplayedSeconds: 12 }, rules)
    assert.equal(cutOff.target, 'primary')
    assert.match((cutOff as { reason: string }).reason, /12\.0 s behind/)
  })
})

describe('chooseFreshTarget', () => {
  const options = { ...rules, waitMs: 1000 }

  test('should read the replica once it has replayed the newest batch heard of', () => {
    assert.deepEqual(chooseFreshTarget(well, { required: 100n, replayed: 100n }, options), { target: 'replica' })
    assert.deepEqual(chooseFreshTarget(well, { required: 100n, replayed: 250n }, options), { target: 'replica' })
    assert.deepEqual(chooseFreshTarget(well, { required: 0n, replayed: 0n }, options), { target: 'replica' })
  })

  test('should wait for a replica that has not replayed it yet but keeps up', () => {
    assert.deepEqual(chooseFreshTarget(well, { required: 101n, replayed: 100n }, options), { target: 'wait' })
    assert.deepEqual(chooseFreshTarget({ ...well, lagSeconds: 0.5 }, { required: 101n, replayed: 100n }, options), {
      target: 'wait',
    })
    assert.deepEqual(chooseFreshTarget(well, { required: 1n, replayed: undefined }, options), { target: 'wait' })
  })

  test('should read the primary rather than wait for a replica that lags more than a wait, or may not be read', () => {
    const slow = chooseFreshTarget({ ...well, lagSeconds: 1 }, { required: 101n, replayed: 100n }, options)
    assert.equal(slow.target, 'primary')
    // Caught up, but the ordinary rules say no: they win.
    const down = chooseFreshTarget({ ...well, reachable: false }, { required: 0n, replayed: 100n }, options)
    assert.equal(down.target, 'primary')
    assert.equal(chooseFreshTarget(undefined, { required: 0n, replayed: undefined }, options).target, 'primary')
    assert.equal(
      chooseFreshTarget(well, { required: 0n, replayed: 0n }, { ...options, configured: false }).target,
      'primary',
    )
  })
})

describe('UnreplayedBatches', () => {
  test('should measure from the oldest batch heard of that is not replayed, and forget replayed ones', () => {
    const batches = new UnreplayedBatches({ mergeMs: 0 })
    assert.equal(batches.oldestSeconds(1000), 0)
    batches.heard(100n, 1000)
    batches.heard(200n, 3000)
    batches.heard(300n, 4000)
    assert.equal(batches.oldestSeconds(6000), 5)
    batches.replayed(150n)
    assert.equal(batches.oldestSeconds(6000), 3)
    batches.replayed(200n)
    assert.equal(batches.oldestSeconds(6000), 2)
    batches.replayed(1000n)
    assert.equal(batches.oldestSeconds(6000), 0)
    assert.equal(batches.size, 0)
  })

  test('should ignore a notice older than one already waited for (two batches notify out of order)', () => {
    const batches = new UnreplayedBatches({ mergeMs: 0 })
    batches.heard(300n, 1000)
    batches.heard(200n, 2000)
    assert.equal(batches.size, 1)
    batches.replayed(300n)
    assert.equal(batches.oldestSeconds(5000), 0)
  })

  test('should merge notices close together, and keep a bounded number of entries', () => {
    const merged = new UnreplayedBatches({ mergeMs: 100 })
    merged.heard(100n, 1000)
    merged.heard(200n, 1050)
    assert.equal(merged.size, 1)
    // The merged entry keeps the earlier time, and is replayed only with the later position.
    merged.replayed(100n)
    assert.equal(merged.oldestSeconds(2000), 1)
    merged.replayed(200n)
    assert.equal(merged.size, 0)

    const bounded = new UnreplayedBatches({ mergeMs: 0, maxEntries: 3 })
    for (let i = 1; i <= 10; i++) bounded.heard(BigInt(i * 100), i * 1000)
    assert.equal(bounded.size, 3)
    bounded.replayed(999n)
    assert.equal(bounded.size, 1, 'the last entry holds the newest position')
    bounded.replayed(1000n)
    assert.equal(bounded.size, 0)
  })
})
