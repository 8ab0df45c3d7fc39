/**
 * Rate limits for log lines that callers can cause at will (a bad request, a refused query): a
 * client sending garbage all day must not fill the disk or drown the lines that matter. Each kind
 * of line gets `perInterval` lines per `intervalMs`; the first line after a quiet spell says how
 * many were held back.
 */
export interface LogSampler {
  /** Whether a line of this kind may be written now; `suppressed` lines were held back before it. */
  take(kind: string): { readonly log: boolean; readonly suppressed: number }
}

export function createLogSampler(
  options: { readonly perInterval?: number; readonly intervalMs?: number; readonly now?: () => number } = {},
): LogSampler {
  const perInterval = options.perInterval ?? 10
  const intervalMs = options.intervalMs ?? 10_000
  const now = options.now ?? Date.now
  const kinds = new Map<string, { windowStart: number; used: number; suppressed: number }>()
  return {
    take(kind) {
      const at = now()
      let state = kinds.get(kind)
      if (state === undefined || at - state.windowStart >= intervalMs) {
        state = { windowStart: at, used: 0, suppressed: state?.suppressed ?? 0 }
        kinds.set(kind, state)
      }
      if (state.used >= perInterval) {
        state.suppressed++
        return { log: false, suppressed: 0 }
      }
      state.used++
      const suppressed = state.suppressed
      state.suppressed = 0
      return { log: true, suppressed }
    },
  }
}
