/**
 * Rows sent to PostgreSQL as parallel arrays, one parameter per column, read back with
 * `unnest($1::type[], $2::type[], …)`. A table's columns are declared once (name, SQL type, value
 * of a row); the SQL text, the column list and the parameters are all derived from that, and the
 * placeholders are numbered from the sections' order, so adding a column cannot shift a `$n`.
 */
import { type ElementType, encodeBinaryArray } from './binary-array.ts'

/** One column: its name in the table, its SQL type, and how a row gives its value. */
export interface Column<Row> {
  readonly name: string
  readonly type: ElementType
  readonly value: (row: Row) => unknown
}

export function column<Row>(name: string, type: ElementType, value: (row: Row) => unknown): Column<Row> {
  return { name, type, value }
}

/** `a, b, c`: the columns' names, for an INSERT's column list or an alias. */
export function columnNames(columns: readonly Column<never>[]): string {
  return columns.map((c) => c.name).join(', ')
}

/**
 * `unnest($n::t[], …)` for each section of a statement, numbered in the order given: the first
 * section takes $first and up, the next one follows on.
 */
export function unnestPlaceholders(sections: readonly (readonly Column<never>[])[], first = 1): string[] {
  let next = first
  return sections.map((columns) => `unnest(${columns.map((c) => `$${next++}::${c.type}[]`).join(', ')})`)
}

/**
 * The parameters of one section: one binary array per column (binary-array.ts), in the columns'
 * order. Throws TypeError when a row's value does not fit its column's type.
 */
export function encodeColumns<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): Buffer[] {
  return columns.map((c) => encodeBinaryArray(c.type, rows.map(c.value)))
}
