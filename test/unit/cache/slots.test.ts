import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { groupBySlot, SLOT_COUNT, slotOf } from '../../../src/cache/slots.ts'

describe('slotOf', () => {
  // From the Redis Cluster specification (CRC16 XMODEM of "123456789" is 0x31C3) and CLUSTER KEYSLOT.
  test('should give the slots Redis gives', () => {
    assert.equal(slotOf('123456789'), 0x31c3)
    assert.equal(slotOf('foo'), 12182)
    assert.equal(slotOf('bar'), 5061)
  })

  test('should hash only the {hash tag} when a key has one', () => {
    assert.equal(slotOf('{user1000}.following'), slotOf('user1000'))
    assert.equal(slotOf('{user1000}.followers'), slotOf('{user1000}.following'))
    // An empty tag is no tag: the whole key counts.
    assert.notEqual(slotOf('{}a'), slotOf('{}b'))
  })

  test('should spread the cache keys of one data set over the slots', () => {
    const slots = new Set(Array.from({ length: 10_000 }, (_, i) => slotOf(`rsvp-topk:db:5432/rsvp:event:v2:${i}`)))
    assert.ok(slots.size > 7000, `${slots.size} slots for 10,000 keys`)
    assert.ok([...slots].every((slot) => slot >= 0 && slot < SLOT_COUNT))
  })
})

describe('groupBySlot', () => {
  test('should put every key once, under its slot, in the given order', () => {
    const keys = ['{a}1', 'b', '{a}2', 'c', '{a}1', 'b']
    const groups = groupBySlot(keys)
    assert.deepEqual(groups.get(slotOf('a')), ['{a}1', '{a}2'])
    assert.deepEqual(groups.get(slotOf('b')), ['b'])
    assert.deepEqual([...groups.values()].flat().sort(), ['b', 'c', '{a}1', '{a}2'])
    for (const [slot, group] of groups) assert.ok(group.every((key) => slotOf(key) === slot))
  })

  test('should return no group without keys', () => {
    assert.equal(groupBySlot([]).size, 0)
  })
})
