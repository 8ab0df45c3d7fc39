import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createStreamWriter, type StreamEvent } from '../../../src/api/stream-writer.ts'
import { waitFor } from '../../support/http.ts'

/** A client whose socket takes a write only when the test says so. */
function slowClient(options: { maxUnsentBytes?: number; maxBlockedMs?: number } = {}) {
  const written: Array<StreamEvent & { first: boolean }> = []
  const accept: Array<() => void> = []
  const closed: string[] = []
  let clock = 0
  let unsent = 0
  const writer = createStreamWriter({
    write: (event, first) =>
      new Promise<void>((resolve) => {
        written.push({ ...event, first })
        accept.push(resolve)
      }),
    unsentBytes: () => unsent,
    close: (reason) => closed.push(reason),
    maxUnsentBytes: options.maxUnsentBytes ?? 1000,
    maxBlockedMs: options.maxBlockedMs ?? 60_000,
    now: () => clock,
  })
  return {
    writer,
    written,
    closed,
    takeNext: () => accept.shift()?.(),
    setClock: (ms: number) => {
      clock = ms
    },
    setUnsent: (bytes: number) => {
      unsent = bytes
    },
  }
}

const until = (what: string, check: () => boolean) => waitFor(what, async () => (check() ? true : undefined), 5000)

describe('createStreamWriter', () => {
  test('should keep only the newest unsent ranking while the client is slow', async () => {
    const client = slowClient()
    client.writer.offer('ranking', 'r1', 1)
    for (let v = 2; v <= 1000; v++) client.writer.offer('ranking', `r${v}`, v)
    client.writer.offer('status', 's1')
    assert.equal(client.writer.pending(), 2, 'one ranking and one status wait, whatever was offered')
    client.takeNext()
    await until('the second write', () => client.written.length === 2)
    client.takeNext()
    await until('the third write', () => client.written.length === 3)
    client.takeNext()
    assert.deepEqual(
      client.written.map((w) => [w.event, w.data, w.first]),
      [
        ['ranking', 'r1', true],
        ['ranking', 'r1000', false],
        ['status', 's1', false],
      ],
    )
  })

  test('should drop a ranking not newer than one already offered', async () => {
    const client = slowClient()
    client.writer.offer('ranking', 'new', 5)
    client.writer.offer('ranking', 'old', 4)
    client.writer.offer('ranking', 'same', 5)
    client.takeNext()
    await until('nothing more to write', () => client.writer.pending() === 0)
    assert.deepEqual(
      client.written.map((w) => w.data),
      ['new'],
    )
  })

  test('should end the stream of a client that takes no write for too long', () => {
    const client = slowClient({ maxBlockedMs: 60_000 })
    client.writer.offer('ranking', 'r1', 1)
    client.setClock(59_999)
    client.writer.offer('ranking', 'r2', 2)
    assert.deepEqual(client.closed, [])
    client.setClock(60_001)
    client.writer.offer('ranking', 'r3', 3)
    assert.equal(client.closed.length, 1)
    assert.match(String(client.closed[0]), /has not taken a write/)
    client.writer.offer('ranking', 'r4', 4)
    assert.equal(client.closed.length, 1, 'closed once')
    assert.equal(client.writer.pending(), 0)
  })

  test('should end the stream when too many bytes wait for the client', () => {
    const client = slowClient({ maxUnsentBytes: 1000 })
    client.setUnsent(1001)
    client.writer.offer('status', 's')
    assert.match(String(client.closed[0]), /more than 1000 bytes/)
    assert.equal(client.written.length, 0)
  })
})
