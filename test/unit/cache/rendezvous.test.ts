import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { groupByOwner, ownerOf } from '../../../src/cache/rendezvous.ts'

const nodes = ['127.0.0.1:26379', '127.0.0.1:26380', '127.0.0.1:26381'] as const
const keys = Array.from({ length: 30_000 }, (_, i) => `rsvp-topk:event:v1:${i}`)

function owners(keyList: readonly string[], nodeIds: readonly string[]): string[] {
  return keyList.map((key) => ownerOf(key, nodeIds) as string)
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  return counts
}

function assertShare(count: number | undefined, total: number, share: number, tolerance: number): void {
  const actual = (count ?? 0) / total
  assert.ok(Math.abs(actual - share) <= share * tolerance, `share ${actual.toFixed(4)}, expected ${share.toFixed(4)}`)
}

describe('ownerOf', () => {
  test('should give the same owner every time', () => {
    assert.deepEqual(owners(keys, nodes), owners(keys, nodes))
  })

  // Processes of different versions share the ring: a new hash would move most keys at deploy time.
  test('should keep the owners it has always given', () => {
    const pinned = [
      ['rsvp-topk:event:v1:1', '127.0.0.1:26381'],
      ['rsvp-topk:event:v1:3', '127.0.0.1:26379'],
      ['rsvp-topk:event:v1:4', '127.0.0.1:26380'],
      ['rsvp-topk:event:v1:5', '127.0.0.1:26379'],
      ['rsvp-topk:event:v1:8', '127.0.0.1:26381'],
    ] as const
    for (const [key, owner] of pinned) assert.equal(ownerOf(key, nodes), owner, key)
  })

  test('should spread 30,000 keys over 3 nodes within 5% of a third each', () => {
    const counts = countBy(owners(keys, nodes))
    assert.equal(counts.size, 3)
    for (const node of nodes) assertShare(counts.get(node), keys.length, 1 / 3, 0.05)
  })

  test('should move only the keys of a node that leaves, spread over the others', () => {
    const before = owners(keys, nodes)
    for (const gone of nodes) {
      const rest = nodes.filter((node) => node !== gone)
      const after = owners(keys, rest)
      const moved: string[] = []
      for (const [i, owner] of before.entries()) {
        if (owner === gone) moved.push(after[i] as string)
        else assert.equal(after[i], owner, `${keys[i]} moved from ${owner} to ${after[i]}`)
      }
      const counts = countBy(moved)
      for (const node of rest) assertShare(counts.get(node), moved.length, 1 / 2, 0.05)
    }
  })

  test('should give a node that comes back exactly the keys it had', () => {
    const before = owners(keys, nodes)
    assert.notDeepEqual(owners(keys, nodes.slice(1)), before)
    assert.deepEqual(owners(keys, [...nodes.slice(1), nodes[0]]), before)
  })

  test('should not depend on the order of the node ids', () => {
    const expected = owners(keys, nodes)
    const orders = [
      [nodes[1], nodes[0], nodes[2]],
      [nodes[2], nodes[1], nodes[0]],
      [nodes[1], nodes[2], nodes[0]],
    ]
    for (const order of orders) assert.deepEqual(owners(keys, order), expected)
  })

  test('should give every key to the only node, and no owner without nodes', () => {
    assert.ok(keys.slice(0, 100).every((key) => ownerOf(key, ['solo:1']) === 'solo:1'))
    assert.equal(ownerOf('any', []), undefined)
    assert.equal(ownerOf('', nodes), ownerOf('', nodes))
  })
})

describe('groupByOwner', () => {
  test('should put every key once, under its owner, in the given order', () => {
    const sample = keys.slice(0, 1000)
    const groups = groupByOwner(sample, nodes)
    assert.deepEqual([...groups.keys()].sort(), [...nodes])
    for (const [node, group] of groups) {
      const owned = sample.filter((key) => ownerOf(key, nodes) === node)
      assert.deepEqual(group, owned)
    }
    const grouped = [...groups.values()].flat()
    assert.equal(grouped.length, sample.length)
  })

  test('should return no group without nodes or without keys', () => {
    assert.equal(groupByOwner(keys.slice(0, 10), []).size, 0)
    assert.equal(groupByOwner([], nodes).size, 0)
  })
})
