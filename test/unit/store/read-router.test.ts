/**
 * The read router with fake pools: which pool answers, the fallback when the replica fails, and
 * fresh reads waiting for the replica's replay. The router's clocks run for real, so every test
 * waits for a state, never for a delay.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { AppError, ErrorCodes } from '../../../src/errors.ts'
import { createLogger } from '../../../src/observability/logger.ts'
import type { Postgres, Queryable } from '../../../src/store/postgres.ts'
import { createReadRouter, type ReadRouterOptions } from '../../../src/store/read-router.ts'

const logger = createLogger('silent')

interface FakeReplica extends Postgres {
  /** statements other than the router's own checks */
  readonly reads: string[]
  /** polls of the replay position (by waiting fresh reads) */
  polls: number
  state: {
    recovery: boolean
    replayed: string
    lag: number
    fail: AppError | undefined
    failReads: AppError | undefined
  }
  closed: boolean
}

function fakeReplica(): FakeReplica {
  const replica: FakeReplica = {
    reads: [],
    polls: 0,
    state: { recovery: true, replayed: '0/100', lag: 0, fail: undefined, failReads: undefined },
    closed: false,
    async query<Row>(text: string) {
      if (replica.state.fail) throw replica.state.fail
      if (text.includes('pg_is_in_recovery')) {
        const row = { recovery: replica.state.recovery, replayed: replica.state.replayed, lag: replica.state.lag }
        return { rows: [row as unknown as Row], rowCount: 1 }
      }
      if (text.includes('pg_last_wal_replay_lsn')) {
        replica.polls++
        return { rows: [{ replayed: replica.state.replayed } as unknown as Row], rowCount: 1 }
      }
      if (replica.state.failReads) throw replica.state.failReads
      replica.reads.push(text)
      return { rows: [{ from: 'replica' } as unknown as Row], rowCount: 1 }
    },
    withTransaction: () => Promise.reject(new Error('not in these tests')),
    connect: () => Promise.reject(new Error('not in these tests')),
    async close() {
      replica.closed = true
    },
  } as FakeReplica
  return replica
}

function fakePrimary(walLsn = '0/500'): Queryable & { reads: string[] } {
  const reads: string[] = []
  return {
    reads,
    async query<Row>(text: string) {
      if (text.includes('pg_current_wal_lsn')) return { rows: [{ lsn: walLsn } as unknown as Row], rowCount: 1 }
      reads.push(text)
      return { rows: [{ from: 'primary' } as unknown as Row], rowCount: 1 }
    },
  }
}

const unavailable = () => new AppError(ErrorCodes.DATABASE_UNAVAILABLE, 'connect ECONNREFUSED 127.0.0.1:25533')

/** Polls `probe` until it holds; the bound only ends a test that would hang. */
async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(1)
  }
}

function routerWith(options: Partial<ReadRouterOptions> & Pick<ReadRouterOptions, 'primary' | 'replica'>) {
  const counts = { replica: 0, primary: 0, caught_up: 0, timed_out: 0 }
  const router = createReadRouter(
    { maxLagSeconds: 5, checkIntervalMs: 2, pollMs: 1, freshWaitMs: 60_000, ...options },
    {
      logger,
      onRead: (target) => {
        counts[target]++
      },
      onWait: (outcome) => {
        counts[outcome]++
      },
    },
  )
  return { router, counts }
}

const from = async (db: Queryable) => (await db.query<{ from: string }>('SELECT 1')).rows[0]?.from

describe('createReadRouter', () => {
  test('without a replica, should read the primary for everything', async (t) => {
    const primary = fakePrimary()
    const { router, counts } = routerWith({ primary, replica: undefined })
    t.after(() => router.close())
    assert.equal(await from(router.reads), 'primary')
    assert.equal(await from(await router.fresh()), 'primary')
    await router.heard('0/900')
    assert.deepEqual(router.status(), { state: 'none', lagSeconds: undefined })
    assert.deepEqual(counts, { replica: 0, primary: 2, caught_up: 0, timed_out: 0 })
  })

  test('should read the replica once checked, and say so', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router, counts } = routerWith({ primary, replica })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    assert.equal(await from(router.reads), 'replica')
    assert.deepEqual(router.status(), { state: 'up', lagSeconds: 0 })
    assert.equal(counts.replica, 1)
    await router.close()
    assert.equal(replica.closed, true, 'close closes the replica’s pool')
  })

  test('should answer from the primary when the replica fails, and return to it when it answers again', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router, counts } = routerWith({ primary, replica, checkIntervalMs: 60_000 })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')

    replica.state.failReads = unavailable()
    assert.equal(await from(router.reads), 'primary', 'the failed statement is run again on the primary')
    const down = router.status()
    assert.equal(down.state, 'down')
    assert.match(down.reason ?? '', /does not answer \(connect ECONNREFUSED/)
    assert.equal(typeof down.since, 'number')
    // Later reads go straight to the primary: the replica is not tried again before a check.
    replica.state.failReads = undefined
    assert.equal(await from(router.reads), 'primary')
    assert.deepEqual(replica.reads, [])
    assert.equal(counts.primary, 2)

    const again = routerWith({ primary, replica, checkIntervalMs: 2 })
    t.after(() => again.router.close())
    replica.state.fail = unavailable()
    await until('a failed check', () => again.router.status().state === 'down')
    assert.equal(await from(again.router.reads), 'primary')
    replica.state.fail = undefined
    await until('a check that answers', () => again.router.status().state === 'up')
    assert.equal(await from(again.router.reads), 'replica')
  })

  test('should not hide an error the data causes: the primary would refuse it too', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router } = routerWith({ primary, replica })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    replica.state.failReads = new AppError(ErrorCodes.DATABASE_REJECTED, 'invalid input syntax (SQLSTATE 22P02)')
    await assert.rejects(router.reads.query('SELECT 1'), /22P02/)
    assert.deepEqual(primary.reads, [])
    assert.equal(router.status().state, 'up')
  })

  test('should read the primary while the replica lags or is not in recovery', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    replica.state.lag = 30
    const { router } = routerWith({ primary, replica })
    t.after(() => router.close())
    await until('a check', () => router.status().state === 'down')
    assert.match(router.status().reason ?? '', /30\.0 s behind \(REPLICA_MAX_LAG_SECONDS 5\)/)
    assert.equal(router.status().lagSeconds, 30)
    assert.equal(await from(router.reads), 'primary')
    replica.state.lag = 0
    await until('the lag to end', () => router.status().state === 'up')
    replica.state.recovery = false
    await until('a promoted replica to be left', () => router.status().state === 'down')
    assert.match(router.status().reason ?? '', /not in recovery/)
  })

  test('fresh reads should wait until the replica has replayed the newest batch heard of', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router, counts } = routerWith({ primary, replica })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    // Replayed already: no wait.
    await router.heard('0/100')
    assert.equal(await from(await router.fresh()), 'replica')
    assert.equal(counts.caught_up + counts.timed_out, 0)

    await router.heard('0/200')
    let settled: string | undefined
    const reading = router.fresh().then(async (db) => {
      settled = await from(db)
    })
    // It waits while the replica is behind, however many polls that takes…
    replica.state.replayed = '0/1FF'
    const polled = replica.polls
    await until('two more polls', () => replica.polls >= polled + 2)
    assert.equal(settled, undefined, 'one byte short is still behind')
    // … and reads the replica once it has replayed that far.
    replica.state.replayed = '0/200'
    await reading
    assert.equal(settled, 'replica')
    assert.equal(counts.caught_up, 1)
  })

  test('fresh reads should go to the primary when the replica does not catch up in time, or fails meanwhile', async (t) => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router, counts } = routerWith({ primary, replica, freshWaitMs: 20 })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    await router.heard('0/900')
    assert.equal(await from(await router.fresh()), 'primary')
    assert.equal(counts.timed_out, 1)

    const long = routerWith({ primary, replica, checkIntervalMs: 60_000 })
    t.after(() => long.router.close())
    await until('the first check', () => long.router.status().state === 'up')
    await long.router.heard('0/900')
    const waiting = long.router.fresh()
    replica.state.fail = unavailable()
    assert.equal(await from(await waiting), 'primary')
    assert.equal(long.counts.timed_out, 1)
    assert.equal(long.router.status().state, 'down')
  })

  test('a batch heard of without a WAL position should wait for the primary’s current one', async (t) => {
    const primary = fakePrimary('0/700')
    const replica = fakeReplica()
    const { router, counts } = routerWith({ primary, replica, freshWaitMs: 20 })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    await router.heard(null)
    assert.equal(await from(await router.fresh()), 'primary', 'the replica is at 0/100, short of the primary’s 0/700')
    replica.state.replayed = '0/700'
    assert.equal(await from(await router.fresh()), 'replica')
    assert.equal(counts.caught_up, 1)
  })

  test('a replica that has not replayed a batch heard of for longer than the limit should not be read', async (t) => {
    let clock = 1_000_000
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router } = routerWith({ primary, replica, now: () => clock })
    t.after(() => router.close())
    await until('the first check', () => router.status().state === 'up')
    // Cut off from its primary: it reports no lag, yet never reaches the batch.
    await router.heard('0/900')
    clock += 5_000
    assert.equal(router.status().state, 'up', 'at the limit')
    clock += 1_000
    assert.equal(router.status().state, 'down')
    assert.match(router.status().reason ?? '', /6\.0 s behind/)
    assert.equal(await from(router.reads), 'primary')
    replica.state.replayed = '0/900'
    await until('a check that sees the batch replayed', () => router.status().state === 'up')
  })

  test('close should release waiting fresh reads to the primary', async () => {
    const primary = fakePrimary()
    const replica = fakeReplica()
    const { router } = routerWith({ primary, replica })
    await until('the first check', () => router.status().state === 'up')
    await router.heard('0/900')
    const waiting = router.fresh()
    await router.close()
    assert.equal(await from(await waiting), 'primary')
  })
})
