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

/**
 * Environment added per command for glibc's allocator, read once when the process starts.
 * glibc raises its mmap threshold as mapped blocks are freed (up to 32 MB: its dynamic threshold),
 * after which the ingest's megabyte blocks (Kafka fetch responses, its batches' byte chunks,
 * PostgreSQL messages) come from its heap, which keeps their freed space; it also raises its trim
 * threshold to twice that. A fixed 1 MB threshold maps each such block on its own and unmaps it
 * when freed, and turns the dynamic adjustment off, trim threshold included (mallopt(3),
 * M_MMAP_THRESHOLD). Smaller blocks (64 KB socket reads) are still served by malloc's arenas.
 * Measured catching up 1,000,000 messages (BENCHMARKS.md, "The allocator's share, adopted"):
 * peak RSS 431–461 MB in five runs against 460–474 MB in four without it, throughput within
 * run-to-run noise; 64 KB saved as much, but one of its three runs was the slowest of the session
 * by 20%. Other C libraries ignore the variable.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  serve: { MALLOC_MMAP_THRESHOLD_: '1048576' },
  ingest: { MALLOC_MMAP_THRESHOLD_: '1048576' },
}

/**
 * The environment variables to add for `command`: ALLOCATOR_ENV[command], or none when `env`
 * already tunes malloc (any `MALLOC_…` variable, or `GLIBC_TUNABLES` naming `glibc.malloc`):
 * an operator's own settings win, as with the heap flags.
 */
export function allocatorEnvToAdd(
  command: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Record<string, string>> {
  const add = command === undefined ? undefined : ALLOCATOR_ENV[command]
  if (add === undefined) return {}
  const tunesMalloc =
    Object.keys(env).some((name) => /^MALLOC_[A-Z_]+$/.test(name)) ||
    (env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.')
  return tunesMalloc ? {} : add
}
