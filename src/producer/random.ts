/**
 * A small seeded pseudo-random generator (mulberry32) for the producer and for tests. It is not
 * cryptographic; it exists so that one seed always yields the same stream, on any machine.
 */

/** Draws from one seeded sequence; every method advances it. */
export interface Random {
  /** a float in [0, 1) */
  next(): number
  /** an integer in [min, maxInclusive] */
  int(min: number, maxInclusive: number): number
  /** one element of a non-empty array */
  pick<T>(items: readonly T[]): T
  /** true with probability p */
  chance(p: number): boolean
  /** an index in 0..n-1 where index i has weight 1 / (i + 1)^s; 0 is the most likely */
  zipf(n: number, s: number): number
}

// One CDF per (n, s), shared by every generator: it depends on nothing else, and building it for
// n = 1,000,000 costs tens of milliseconds we do not want to pay twice.
const zipfTables = new Map<string, Float64Array>()

function zipfTable(n: number, s: number): Float64Array {
  const key = `${n}:${s}`
  let cdf = zipfTables.get(key)
  if (cdf === undefined) {
    cdf = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) {
      sum += 1 / (i + 1) ** s
      cdf[i] = sum
    }
    for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / sum
    // rounding can leave the last entry a hair below 1; a draw there must still land in range
    cdf[n - 1] = 1
    zipfTables.set(key, cdf)
  }
  return cdf
}

/**
 * A generator seeded with any safe integer. Seeds that differ only above bit 32 still give
 * different sequences, because the high half is folded into the 32-bit state.
 */
export function createRandom(seed: number): Random {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, not ${seed}`)
  let state = (seed ^ Math.floor(seed / 0x1_0000_0000)) >>> 0

  function next(): number {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000
  }

  function int(min: number, maxInclusive: number): number {
    return min + Math.floor(next() * (maxInclusive - min + 1))
  }

  function pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty array')
    return items[Math.floor(next() * items.length)] as T
  }

  function chance(p: number): boolean {
    return next() < p
  }

  function zipf(n: number, s: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`zipf needs n >= 1, not ${n}`)
    const cdf = zipfTable(n, s)
    const u = next()
    // the first index whose cumulative weight exceeds u
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  return { next, int, pick, chance, zipf }
}
