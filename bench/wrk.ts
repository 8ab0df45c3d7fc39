/**
 * HTTP load from wrk (https://github.com/wg/wrk, Debian's `wrk`), the load generator of the top-k
 * benchmark. wrk is C with one event loop per thread: at 12,000 requests/s it takes about a
 * quarter of a core, where autocannon in the bench's own Node.js process took a whole one, on a
 * two-core machine that the service and PostgreSQL share. `./dev.sh bench` installs it.
 *
 * A run is closed-loop: each of `connections` connections sends its next request when the answer
 * to the last one has arrived, so the latency it reports includes the queueing its own
 * connections cause (Little's law: mean latency = connections / throughput).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const REPORT_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url))
const REPORT_LINE = /^WRK_REPORT (\{.*\})$/m

export interface WrkRun {
  readonly requests: number
  readonly requestsPerSecond: number
  /** percentiles of every response's latency, in ms (wrk keeps microseconds) */
  readonly p50Ms: number
  readonly p99Ms: number
  /** answers with a status of 400 or more (wrk's `errors.status`; it does not count 3xx) */
  readonly errorStatuses: number
  /** connect, read and write errors and timeouts */
  readonly errors: number
}

export interface WrkOptions {
  readonly connections: number
  readonly durationSeconds: number
  /** a request unanswered this long counts as a timeout (default 10 s) */
  readonly timeoutSeconds?: number
}

/**
 * Drives GET `url` with one wrk thread and `connections` connections (at least 1) for
 * `durationSeconds`. Rejects when wrk is missing (saying how to install it), when it exits with
 * an error, or when it prints no report.
 */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkRun> {
  const args = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    `--timeout`,
    `${options.timeoutSeconds ?? 10}s`,
    '-s',
    REPORT_SCRIPT,
    url,
  ]
  let stdout: string
  try {
    ;({ stdout } = await promisify(execFile)('wrk', args, { maxBuffer: 1 << 20 }))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new Error('wrk is not installed: ./dev.sh bench installs it (Debian package wrk), or apt install wrk')
    }
    throw error
  }
  const line = REPORT_LINE.exec(stdout)?.[1]
  if (line === undefined) throw new Error(`wrk printed no report:\n${stdout}`)
  const r = JSON.parse(line) as Record<string, number>
  const get = (name: string): number => {
    const value = r[name]
    if (typeof value !== 'number') throw new Error(`wrk's report has no ${name}: ${line}`)
    return value
  }
  return {
    requests: get('requests'),
    requestsPerSecond: get('requests') / (get('duration_us') / 1e6),
    p50Ms: get('p50_us') / 1000,
    p99Ms: get('p99_us') / 1000,
    errorStatuses: get('status_errors'),
    errors: get('connect_errors') + get('read_errors') + get('write_errors') + get('timeouts'),
  }
}
