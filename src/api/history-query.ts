/**
 * The history query string (`from`, `to`, `step`), checked like the top-k one: pure, and every
 * problem named by its parameter with a message a user can act on.
 */
import { type HistoryStep, MS_PER_STEP, stepStart } from '../domain/history.ts'
import type { ParameterError, RawQuery } from './request-text.ts'
import { EARLIEST_INSTANT, instantProblem, parseInstant, unknownParameter } from './topk-query.ts'

export interface HistoryQuery {
  /** the first step's start, epoch ms (a multiple of the step) */
  readonly from: number
  /** the end of the last step, exclusive, epoch ms (a multiple of the step) */
  readonly to: number
  readonly step: HistoryStep
}

/** The most points one answer holds: 2,000 hours is about 83 days; 2,000 days about 5.5 years. */
export const MAX_HISTORY_POINTS = 2000
/** Without `from`: this long before `to`. */
export const DEFAULT_HISTORY_MS = 7 * 86_400_000
const PARAMETERS = ['from', 'to', 'step']

export type HistoryQueryResult =
  | { readonly ok: true; readonly query: HistoryQuery }
  | { readonly ok: false; readonly error: ParameterError }

/**
 * Reads `from` and `to` (ISO-8601 or epoch ms; `to` defaults to `now`, `from` to 7 days before
 * `to`, or 0000-01-01 when that is earlier) and `step` (hour, the default, or day); `from` is rounded down and `to` up to whole steps.
 */
export function parseHistoryQuery(raw: RawQuery, now: number): HistoryQueryResult {
  const fail = (parameter: string, message: string): HistoryQueryResult => ({
    ok: false,
    error: { parameter, message },
  })
  const unknown = unknownParameter(raw, PARAMETERS)
  if (unknown !== undefined) return { ok: false, error: unknown }
  for (const name of PARAMETERS) {
    if (Array.isArray(raw[name])) return fail(name, `${name} must be given at most once`)
  }
  const stepText = raw.step as string | undefined
  if (stepText !== undefined && stepText !== 'hour' && stepText !== 'day')
    return fail('step', 'step must be hour or day')
  const step: HistoryStep = stepText ?? 'hour'
  const size = MS_PER_STEP[step]

  const toText = raw.to as string | undefined
  const toGiven = toText === undefined ? now : parseInstant(toText)
  if (toGiven === undefined) return fail('to', instantProblem('to', toText))
  const to = stepStart(toGiven - 1, step) + size
  const fromText = raw.from as string | undefined
  // The default span stops at year 0000 (a whole day and hour): an answer's times stay ones the API takes.
  const fromGiven =
    fromText === undefined ? Math.max(to - DEFAULT_HISTORY_MS, EARLIEST_INSTANT) : parseInstant(fromText)
  if (fromGiven === undefined) return fail('from', instantProblem('from', fromText))
  const from = stepStart(fromGiven, step)
  if (from >= to && fromText === undefined) return fail('to', 'to must be after 0000-01-01T00:00:00Z')
  if (from >= to) return fail('from', 'from must be before to (to defaults to now)')
  const points = (to - from) / size
  if (points > MAX_HISTORY_POINTS) {
    return fail(
      'from',
      `a history holds at most ${MAX_HISTORY_POINTS} steps; from ${fromText ?? '(7 days before to)'} to ${toText ?? 'now'} by ${step} is ${points}. Narrow it${step === 'hour' ? ', or use step=day' : ''}`,
    )
  }
  return { ok: true, query: { from, to, step } }
}
