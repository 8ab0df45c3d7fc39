/**
 * Small HTTP helpers for tests against a running service: a GET that parses JSON when it can,
 * waiting for a state (never for a guessed delay), and reading one Prometheus sample.
 */
import { setTimeout as sleep } from 'node:timers/promises'

// Replies are JSON checked field by field; a typed view of every shape would add nothing.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Reply = any

export async function get(base: string, path: string): Promise<{ status: number; body: Reply; text: string }> {
  const response = await fetch(base + path)
  const text = await response.text()
  let body: Reply
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, body, text }
}

/**
 * Polls `probe` until it returns something other than undefined (a thrown error counts as not
 * yet), and returns that. `timeoutMs` only bounds a test that would otherwise hang.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** The value of one sample of a Prometheus text exposition, e.g. ('x_total', 'outcome="applied"'). */
export function metricValue(metrics: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}}`
  const line = metrics.split('\n').find((l) => l.startsWith(prefix))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}
