/**
 * Load on the query API that checks every answer: top k and single events, each compared with
 * the counting contract (ranks, counts and the event's name), from a few concurrent clients.
 * Either a set number of requests (apiLoad), or until stopped (startApiLoad: load that runs
 * through a fault).
 */
import { computeExpected, topK } from '../test/support/contract-oracle.ts'
import { get } from '../test/support/http.ts'
import type { StreamMessage } from '../test/support/ingest-harness.ts'

const K = 20

export interface LoadResult {
  readonly requests: number
  /** one line per answer that was not 200 or not what the contract says */
  readonly failures: string[]
  /** the slowest answer, in ms */
  readonly slowestMs: number
}

export async function apiLoad(
  base: string,
  messages: readonly StreamMessage[],
  options: { readonly requests: number; readonly concurrency: number },
): Promise<LoadResult> {
  const load = startApiLoad(base, messages, { ...options, until: (issued) => issued >= options.requests })
  return load.done
}

export interface RunningLoad {
  /** requests sent so far */
  issued(): number
  /** failures so far (see LoadResult) */
  failures(): readonly string[]
  /** Stops sending and resolves once every request in flight has its answer. */
  stop(): Promise<LoadResult>
  /** resolves when the load ends by itself (`until`) or is stopped */
  readonly done: Promise<LoadResult>
}

/**
 * Starts checked load that runs until `stop()` (or until `until(issued)` says so). A request that
 * fails to connect is a failure like a wrong answer: the API must answer all the time.
 */
export function startApiLoad(
  base: string,
  messages: readonly StreamMessage[],
  options: { readonly concurrency: number; readonly until?: (issued: number) => boolean },
): RunningLoad {
  const expected = computeExpected(messages.map((m) => m.value))
  const ranking = topK(expected, K)
  const failures: string[] = []
  let issued = 0
  let stopped = false
  let slowestMs = 0
  const one = async (n: number) => {
    if (n % 2 === 0) {
      const { status, body, text } = await get(base, `/api/v1/events/topk?k=${K}`)
      if (status !== 200) {
        failures.push(`topk: ${status} ${text.slice(0, 200)}`)
        return
      }
      const got = body.events.map((e: { event_id: string; yes_rsvps: number; attendees: number }) => ({
        eventId: e.event_id,
        yes: e.yes_rsvps,
        attendees: e.attendees,
      }))
      if (JSON.stringify(got) !== JSON.stringify(ranking)) failures.push('topk: the ranking differs from the contract')
      for (const event of body.events as { event_id: string; name: string | null }[]) {
        const want = expected.events.get(event.event_id)?.name ?? null
        if (event.name !== want) failures.push(`topk: ${event.event_id} named ${event.name}, not ${want}`)
      }
    } else {
      const pick = ranking[n % ranking.length]
      if (!pick) return
      const { status, body, text } = await get(base, `/api/v1/events/${encodeURIComponent(pick.eventId)}`)
      if (status !== 200) failures.push(`event: ${status} ${text.slice(0, 200)}`)
      else if (body.name !== (expected.events.get(pick.eventId)?.name ?? null)) {
        failures.push(`event ${pick.eventId}: name ${body.name}`)
      }
    }
  }
  const client = async () => {
    while (!stopped && !(options.until?.(issued) ?? false)) {
      const n = issued++
      const started = performance.now()
      try {
        await one(n)
      } catch (error) {
        failures.push(`request ${n}: ${(error as Error).message}`)
      }
      slowestMs = Math.max(slowestMs, performance.now() - started)
    }
  }
  const done = Promise.all(Array.from({ length: options.concurrency }, client)).then(() => ({
    requests: issued,
    failures,
    slowestMs,
  }))
  return {
    issued: () => issued,
    failures: () => failures,
    stop() {
      stopped = true
      return done
    },
    done,
  }
}
