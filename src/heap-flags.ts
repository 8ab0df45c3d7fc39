/**
 * The V8 heap flags each command starts with, chosen by measurement (BENCHMARKS.md, "Memory by
 * command"). Node sizes its young generation by the machine's memory: on a 24 GB machine each of
 * its two semi-spaces grows to 64 MB, and all 128 MB stay resident once touched.
 * - `api` allocates little that outlives a request: 8 MB semi-spaces cost it no throughput that
 *   could be told from run-to-run noise, and took it from about 200 to about 165 MB under load.
 * - `serve` also ingests: the same flag took it from 380–420 to 305–350 MB at a steady 30% of the
 *   ingest capacity, with freshness unchanged; it catches up a backlog with half the young
 *   generation `ingest` has (8 MB semi-spaces cost `ingest` about 8% of its throughput).
 * - `ingest` gets 16 MB semi-spaces: about 75 MB less at its peak while catching up, with no
 *   throughput lost (15.3–16.6k against 14.8–15.7k RSVPs/s, two to three runs each in one session).
 *   Before a batch kept its messages as copies (kafka/record-archive.ts), the same flag cost 14%:
 *   batches then kept every consumed record alive across young collections, and promoting them
 *   was the cost.
 * Flags that make V8 collect the old generation sooner (--heap-growing-percent) bounded memory
 * further but cost freshness and throughput, so none is set.
 *
 * An operator's own heap flags (on the node command line or in NODE_OPTIONS) always win: when
 * any is given, none of these is added. `NODE_OPTIONS=--max-semi-space-size=0` (V8's default)
 * runs a command with Node's own sizing.
 */

/** Flags added per command when the operator gave no heap flag. */
export const HEAP_FLAGS: Readonly<Record<string, readonly string[]>> = {
  api: ['--max-semi-space-size=8'],
  serve: ['--max-semi-space-size=8'],
  ingest: ['--max-semi-space-size=16'],
}

// Flags that size V8's heap or steer its growth; V8 reads `_` and `-` alike.
const HEAP_FLAG_NAMES = [
  'max-semi-space-size',
  'min-semi-space-size',
  'max-old-space-size',
  'max-heap-size',
  'heap-growing-percent',
  'semi-space-growth-factor',
]

/**
 * The flags to start `command` with: HEAP_FLAGS[command], or none when `execArgv` (node's own
 * arguments) or `nodeOptions` (NODE_OPTIONS) already set a heap flag, or when the command has
 * none (e.g. `migrate`, `produce`, `--help`).
 */
export function heapFlagsToAdd(
  command: string | undefined,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): readonly string[] {
  const flags = command === undefined ? undefined : HEAP_FLAGS[command]
  if (flags === undefined) return []
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
  const setsHeap = given.some((arg) => {
    const name = arg.replace(/^--/, '').split('=')[0]?.replaceAll('_', '-') ?? ''
    return arg.startsWith('--') && HEAP_FLAG_NAMES.includes(name)
  })
  return setsHeap ? [] : flags
}
