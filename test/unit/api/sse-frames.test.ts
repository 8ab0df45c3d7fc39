import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createSharedFrames, sseFrame } from '../../../src/api/sse-frames.ts'

describe('sseFrame', () => {
  test('should write the event, one data line per line of the data, and the blank line that ends it', () => {
    assert.equal(sseFrame('ranking', '{"k":1}').toString(), 'event: ranking\ndata: {"k":1}\n\n')
    assert.equal(sseFrame('x', 'a\nb\r\nc\rd').toString(), 'event: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n')
    assert.equal(sseFrame('x', '').toString(), 'event: x\ndata: \n\n')
  })

  test('should keep text that is not ASCII as UTF-8', () => {
    assert.deepEqual(sseFrame('x', 'Zürich 東京 🎉'), Buffer.from('event: x\ndata: Zürich 東京 🎉\n\n', 'utf8'))
  })
})

describe('createSharedFrames', () => {
  test('should format a value once, and hand every later caller the same bytes', () => {
    let formatted = 0
    const frameOf = createSharedFrames('ranking', (ranking: { body: string }) => {
      formatted++
      return ranking.body
    })
    const ranking = { body: '{"k":10}' }
    const first = frameOf(ranking)
    assert.equal(frameOf(ranking), first, 'the same Buffer, not a copy')
    assert.equal(formatted, 1)
    const other = frameOf({ body: '{"k":10}' })
    assert.notEqual(other, first, 'another value (another version) gets its own frame')
    assert.deepEqual(other, first)
    assert.equal(formatted, 2)
  })
})
