/**
 * The filters of the top-k query, each declared once: its parameter name, how its text is
 * checked, its SQL condition, its OpenAPI schema and its help text. The query parser, the SQL,
 * the OpenAPI document and `rsvp-topk api --help` are all derived from this table, so a new
 * filter (a group's state, say) is one entry here.
 */
import { type TSchema, Type } from 'typebox'
import type { TopkCondition } from '../store/topk-queries.ts'
import { textProblem } from './request-text.ts'

export interface TopkFilter<V = unknown> {
  /** the query parameter */
  readonly name: string
  /** what it keeps, for the OpenAPI document and --help */
  readonly description: string
  /** a value to show in --help */
  readonly example: string
  /** the parameter's OpenAPI schema (the text is checked by `parse`, not by this schema) */
  readonly schema: TSchema
  /** The value, or what is wrong with the text (the message names the parameter). */
  parse(text: string): { readonly value: V } | { readonly problem: string }
  /** The SQL condition for a value, or undefined when the value keeps everything. */
  condition(value: V, context: { readonly now: number }): TopkCondition | undefined
  /** true when what it keeps changes with the clock alone (a live ranking is then recomputed now and then) */
  readonly clock?: boolean
}

/** The longest city or topic accepted; real ones are far shorter. */
export const MAX_FILTER_TEXT_LENGTH = 200

function text(name: string): (raw: string) => { value: string } | { problem: string } {
  return (raw) => {
    const problem = raw.trim() === '' ? 'must not be empty' : textProblem(raw, MAX_FILTER_TEXT_LENGTH)
    return problem === undefined
      ? { value: raw }
      : {
          problem: `${name} must be a non-empty text of at most ${MAX_FILTER_TEXT_LENGTH} characters (${name} ${problem})`,
        }
  }
}

function filter<V>(definition: TopkFilter<V>): TopkFilter {
  return definition as TopkFilter
}

export const TOPK_FILTERS: readonly TopkFilter[] = [
  filter<string>({
    name: 'country',
    description: 'only events whose group is in this country: a two-letter code, in any case (us, DE)',
    example: 'us',
    schema: Type.String({ pattern: '^[A-Za-z]{2}$' }),
    parse: (raw) =>
      /^[A-Za-z]{2}$/.test(raw)
        ? { value: raw.toLowerCase() }
        : { problem: 'country must be a two-letter country code, such as us or DE' },
    condition: (country) => ({ on: 'group', sql: (param) => `lower(g.country) = ${param(country)}` }),
  }),
  filter<string>({
    name: 'city',
    description: 'only events whose group is in this city, compared in any case',
    example: 'chicago',
    schema: Type.String({ minLength: 1, maxLength: MAX_FILTER_TEXT_LENGTH }),
    parse: text('city'),
    condition: (city) => ({ on: 'group', sql: (param) => `lower(g.city) = lower(${param(city)})` }),
  }),
  filter<string>({
    name: 'topic',
    description: 'only events whose group has this topic (its urlkey, such as softwaredev)',
    example: 'softwaredev',
    schema: Type.String({ minLength: 1, maxLength: MAX_FILTER_TEXT_LENGTH }),
    parse: text('topic'),
    condition: (topic) => ({
      on: 'group',
      sql: (param) => `g.topics @> ${param(JSON.stringify([{ urlkey: topic }]))}::jsonb`,
    }),
  }),
  filter<boolean>({
    name: 'upcoming',
    description: 'true: only events whose time is after now; false (the default): any',
    example: 'true',
    schema: Type.Boolean(),
    parse: (raw) =>
      raw === 'true' || raw === 'false' ? { value: raw === 'true' } : { problem: 'upcoming must be true or false' },
    condition: (upcoming, { now }) =>
      upcoming ? { on: 'event', sql: (param) => `e.time_ms > ${param(now)}` } : undefined,
    clock: true,
  }),
]
