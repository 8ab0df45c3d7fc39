/**
 * What the process knows of its dependencies, for /readyz. Each dependency is `waiting` until it
 * first answers (start-up waits for it), then `up`, `failing` from its first failure in a row
 * (readiness holds for a grace period, so a blip does not flap it), and `down` once it has failed
 * for longer than the grace period. The process is ready when every dependency is up or failing.
 */

export type DependencyName = 'postgres' | 'kafka'

export interface DependencyState {
  readonly status: 'waiting' | 'up' | 'failing' | 'down'
  /** ISO-8601: since when it has been waiting or failing */
  readonly since?: string
  /** the latest error, while waiting, failing or down */
  readonly error?: string
}

export interface Readiness {
  readonly ready: boolean
  readonly dependencies: Readonly<Record<string, DependencyState>>
  /** the dependencies that make the process unready, e.g. ['postgres'] */
  readonly missing: readonly string[]
}

export interface Health {
  /** The dependency answered: a failure streak ends. */
  up(name: DependencyName): void
  /** The dependency failed (a connection refused, a request that timed out, …). */
  failed(name: DependencyName, error: unknown): void
  readiness(): Readiness
}

export interface HealthOptions {
  readonly dependencies: readonly DependencyName[]
  /** how long a dependency that answered before may fail before the process is unready */
  readonly graceMs: number
  readonly now?: () => number
}

interface Tracked {
  reached: boolean
  failingSince: number | undefined
  waitingSince: number
  error: string | undefined
}

export function createHealth(options: HealthOptions): Health {
  const now = options.now ?? Date.now
  const tracked = new Map<DependencyName, Tracked>()
  const started = now()
  for (const name of options.dependencies) {
    tracked.set(name, { reached: false, failingSince: undefined, waitingSince: started, error: undefined })
  }
  const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

  return {
    up(name) {
      const state = tracked.get(name)
      if (!state) return
      state.reached = true
      state.failingSince = undefined
      state.error = undefined
    },
    failed(name, error) {
      const state = tracked.get(name)
      if (!state) return
      state.error = describe(error)
      if (state.reached && state.failingSince === undefined) state.failingSince = now()
    },
    readiness() {
      const at = now()
      const dependencies: Record<string, DependencyState> = {}
      const missing: string[] = []
      for (const [name, state] of tracked) {
        let entry: DependencyState
        if (!state.reached) {
          entry = { status: 'waiting', since: new Date(state.waitingSince).toISOString(), ...errorOf(state) }
        } else if (state.failingSince === undefined) {
          entry = { status: 'up' }
        } else {
          const down = at - state.failingSince > options.graceMs
          entry = {
            status: down ? 'down' : 'failing',
            since: new Date(state.failingSince).toISOString(),
            ...errorOf(state),
          }
        }
        if (entry.status === 'waiting' || entry.status === 'down') missing.push(name)
        dependencies[name] = entry
      }
      return { ready: missing.length === 0, dependencies, missing }
    },
  }
}

function errorOf(state: Tracked): { error?: string } {
  return state.error === undefined ? {} : { error: state.error }
}

/**
 * What a readiness probe logs, given the dependencies missing when it last logged (`before`) and
 * now (`missing`): 'not ready' when the missing set changed and is not empty, 'ready' when it
 * became empty, undefined when it is as before. Why only changes: an orchestrator polls /readyz
 * every few seconds and anyone may call it, so a line per probe while a dependency is down would
 * be noise, or a way to fill the disk; each dependency's failures are logged where they happen.
 */
export function readinessChange(
  before: readonly string[],
  missing: readonly string[],
): 'not ready' | 'ready' | undefined {
  const same = before.length === missing.length && missing.every((name) => before.includes(name))
  if (same) return undefined
  return missing.length === 0 ? 'ready' : 'not ready'
}
