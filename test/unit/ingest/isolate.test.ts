import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isolateRefused } from '../../../src/ingest/isolate.ts'

class Refused extends Error {}
class Unavailable extends Error {}

/**
 * A database stand-in that refuses any part holding a poison item (or, with `together`, holding
 * both items of a pair), records each part it was asked to apply, and applies the rest.
 */
function database(poison: ReadonlySet<number>, together?: readonly [number, number]) {
  const calls: number[][] = []
  const applied: number[] = []
  return {
    calls,
    applied,
    apply: async (part: readonly number[]) => {
      calls.push([...part])
      if (part.some((item) => poison.has(item))) throw new Refused(`refused ${part.find((i) => poison.has(i))}`)
      if (together && part.includes(together[0]) && part.includes(together[1])) throw new Refused('conflict')
      applied.push(...part)
      return part.length
    },
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const isRefusal = (error: unknown) => error instanceof Refused

describe('isolateRefused', () => {
  test('should isolate the one refused item of 8 in 6 transactions, applying the rest in order', async () => {
    const db = database(new Set([5]))
    const result = await isolateRefused(range(8), new Refused('whole'), db.apply, isRefusal)
    assert.deepEqual(
      result.refused.map((r) => r.item),
      [5],
    )
    assert.ok(result.refused[0]?.error instanceof Refused)
    assert.deepEqual(db.calls, [[0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]])
    assert.equal(result.transactions, 6)
    assert.deepEqual(db.applied, [0, 1, 2, 3, 4, 6, 7], 'everything else, in the batch order')
    assert.deepEqual(result.applied, [4, 1, 2])
  })

  test('should isolate one item in 20,000 in at most 2·log2(n) transactions', async () => {
    const db = database(new Set([12_345]))
    const result = await isolateRefused(range(20_000), new Refused('whole'), db.apply, isRefusal)
    assert.deepEqual(
      result.refused.map((r) => r.item),
      [12_345],
    )
    assert.ok(result.transactions <= 2 * Math.ceil(Math.log2(20_000)), `${result.transactions} transactions`)
    assert.equal(db.applied.length, 19_999)
  })

  test('should isolate several refused items, each once, whatever their places', async () => {
    const poison = new Set([0, 1, 99, 500, 999])
    const db = database(poison)
    const result = await isolateRefused(range(1000), new Refused('whole'), db.apply, isRefusal)
    assert.deepEqual(
      result.refused.map((r) => r.item),
      [...poison],
    )
    assert.deepEqual(
      db.applied,
      range(1000).filter((i) => !poison.has(i)),
    )
  })

  test('should refuse a batch of one at once, without a transaction', async () => {
    const db = database(new Set([0]))
    const result = await isolateRefused([0], new Refused('whole'), db.apply, isRefusal)
    assert.deepEqual(
      result.refused.map((r) => r.item),
      [0],
    )
    assert.equal(result.transactions, 0)
  })

  test('should set nothing aside when the failure came from two items together that end up in different halves', async () => {
    const db = database(new Set(), [1, 6])
    const result = await isolateRefused(range(8), new Refused('conflict'), db.apply, isRefusal)
    assert.deepEqual(result.refused, [])
    assert.deepEqual(db.applied, range(8))
    assert.equal(result.transactions, 2)
  })

  test('should throw at once an error that is not a refusal, keeping what was applied', async () => {
    let calls = 0
    const apply = async (part: readonly number[]) => {
      calls++
      if (calls === 2) throw new Unavailable('gone')
      if (part.includes(3)) throw new Refused('no')
      return part.length
    }
    await assert.rejects(isolateRefused(range(8), new Refused('whole'), apply, isRefusal), Unavailable)
  })

  test('should do nothing for an empty batch', async () => {
    const db = database(new Set())
    const result = await isolateRefused([], new Refused('whole'), db.apply, isRefusal)
    assert.deepEqual(result, { applied: [], refused: [], transactions: 0 })
  })
})
