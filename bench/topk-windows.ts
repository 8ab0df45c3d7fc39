/**
 * Windows in the top-k bench (bench/topk-latency.ts runs these):
 * - the worst window a request may ask for: TOPK_MAX_WINDOW_DAYS over the whole data set, each
 *   request a window of its own (shifted by a millisecond) so no answer is reused;
 * - memory under many distinct windows at k=1000, with answers kept a minute: what bounds the API
 *   process then is the answer cache's byte budget (TOPK_CACHE_MAX_MB), not the count of queries.
 */

export interface WindowTimes {
  readonly requests: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** answers that were not 200 */
  readonly failed: number
  readonly requestsPerSecond: number
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
}

/**
 * `count` top-k requests for distinct windows [start + i, start + i + spanMs) at `k`, from
 * `concurrency` clients; the latency of each is the time to its last byte.
 */
export async function distinctWindows(
  base: string,
  options: {
    readonly startMs: number
    readonly spanMs: number
    readonly k: number
    readonly count: number
    readonly concurrency: number
  },
): Promise<WindowTimes> {
  const times: number[] = []
  let failed = 0
  let next = 0
  const started = performance.now()
  const client = async () => {
    while (next < options.count) {
      const i = next++
      const from = options.startMs + i
      const url = `${base}/api/v1/events/topk?k=${options.k}&from=${from}&to=${from + options.spanMs}`
      const begun = performance.now()
      const response = await fetch(url)
      await response.arrayBuffer()
      times.push(performance.now() - begun)
      if (response.status !== 200) failed++
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client))
  const seconds = (performance.now() - started) / 1000
  times.sort((a, b) => a - b)
  return {
    requests: times.length,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    max: times.at(-1) ?? Number.NaN,
    failed,
    requestsPerSecond: times.length / seconds,
  }
}
