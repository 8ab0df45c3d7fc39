import assert from 'node:assert/strict'
import { test } from 'node:test'
import { unownedPartitions } from '../../../src/kafka/admin.ts'

test('unownedPartitions should list the partitions no member owns, ascending', () => {
  assert.deepEqual(unownedPartitions(4, [1, 0]), [2, 3])
  assert.deepEqual(unownedPartitions(6, [5, 0, 2, 4, 3, 1]), [])
  assert.deepEqual(unownedPartitions(3, []), [0, 1, 2])
  // A member may still name a partition of a topic that shrank away (recreated): it is ignored.
  assert.deepEqual(unownedPartitions(2, [0, 7]), [1])
  assert.deepEqual(unownedPartitions(0, [0]), [])
})
