import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createIngestStatus, RATE_WINDOW_MS } from '../../../src/api/ingest-status.ts'

const T = Date.parse('2026-11-29T12:00:00Z')
const notice = (messages: number, newest: number | null) => ({
  applied: messages,
  messages,
  newestAppliedMtime: newest,
})

describe('createIngestStatus', () => {
  test('should say nothing is known before any notice', () => {
    assert.deepEqual(createIngestStatus().at(T), { ingest_rate_per_s: 0, newest_applied_mtime: null })
  })

  test('should average the messages of the last 10 s and keep the newest mtime', () => {
    const status = createIngestStatus()
    status.record(notice(5000, T - 60_000), T)
    status.record(notice(15_000, T - 120_000), T + 4000)
    assert.deepEqual(status.at(T + 5000), {
      ingest_rate_per_s: 2000,
      newest_applied_mtime: new Date(T - 60_000).toISOString(),
    })
    // The first notice leaves the window, then the second: the rate decays to 0 with nothing new.
    assert.equal(status.at(T + RATE_WINDOW_MS + 1000).ingest_rate_per_s, 1500)
    assert.equal(status.at(T + 4000 + RATE_WINDOW_MS + 1000).ingest_rate_per_s, 0)
  })

  test('should take a newest mtime from elsewhere only when it is newer', () => {
    const status = createIngestStatus()
    status.seen(T)
    status.seen(T - 1)
    status.seen(null)
    status.record(notice(1, null), T)
    assert.equal(status.at(T).newest_applied_mtime, new Date(T).toISOString())
  })
})
