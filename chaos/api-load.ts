/**
 * Load on the query API that checks every answer: top k and single events, each compared with
 * the counting contract (ranks, counts and the event's name), from a few concurrent clients.
 */
import { computeExpected, topK } from '../test/support/contract-oracle.ts'
import { get } from '../test/support/http.ts'
import type { StreamMessage } from '../test/support/ingest-harness.ts'

const K = 20

export interface LoadResult {
  readonly requests: number
  /** one line per answer that was not 200 or not what the contract says */
  readonly failures: string[]
}

export async function apiLoad(
  base: string,
  messages: readonly StreamMessage[],
  options: { readonly requests: number; readonly concurrency: number },
): Promise<LoadResult> {
  const expected = computeExpected(messages.map((m) => m.value))
  const ranking = topK(expected, K)
  const failures: string[] = []
  let issued = 0
  const client = async () => {
    while (issued < options.requests) {
      const n = issued++
      if (n % 2 === 0) {
        const { status, body, text } = await get(base, `/api/v1/events/topk?k=${K}`)
        if (status !== 200) {
          failures.push(`topk: ${status} ${text.slice(0, 200)}`)
          continue
        }
        const got = body.events.map((e: { event_id: string; yes_rsvps: number; attendees: number }) => ({
          eventId: e.event_id,
          yes: e.yes_rsvps,
          attendees: e.attendees,
        }))
        if (JSON.stringify(got) !== JSON.stringify(ranking))
          failures.push('topk: the ranking differs from the contract')
        for (const event of body.events as { event_id: string; name: string | null }[]) {
          const want = expected.events.get(event.event_id)?.name ?? null
          if (event.name !== want) failures.push(`topk: ${event.event_id} named ${event.name}, not ${want}`)
        }
      } else {
        const pick = ranking[n % ranking.length]
        if (!pick) continue
        const { status, body, text } = await get(base, `/api/v1/events/${encodeURIComponent(pick.eventId)}`)
        if (status !== 200) failures.push(`event: ${status} ${text.slice(0, 200)}`)
        else if (body.name !== (expected.events.get(pick.eventId)?.name ?? null)) {
          failures.push(`event ${pick.eventId}: name ${body.name}`)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client))
  return { requests: issued, failures }
}
