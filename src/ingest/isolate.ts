/**
 * Finds the messages of a batch that the database refuses, by bisection: the batch failed as a
 * whole, so each half is applied in a transaction of its own, and a half that fails is split
 * again, down to single messages. The halves go in order, so the state after them equals the
 * state after the batch in order (and the counting rules do not depend on order anyway). With b
 * refused messages in n, that costs about 2·b·log2(n) transactions.
 *
 * A failure caused by two messages together (a conflict inside one statement) disappears once
 * they are in different halves: then nothing is set aside and everything is applied.
 *
 * Source of the idea: the bisection of Kafka Connect's and Flink's poison-record handling, as
 * summed up in shared/notes/poison-messages.md.
 */

export interface Refusal<T> {
  readonly item: T
  /** the error with which the item was refused on its own */
  readonly error: unknown
}

export interface Isolation<T, R> {
  /** what `apply` returned for each part that went through, in order */
  readonly applied: R[]
  /** the items refused on their own, in order */
  readonly refused: Refusal<T>[]
  /** how many times `apply` was called */
  readonly transactions: number
}

/**
 * Applies `items` (which already failed together with `failure`) in parts, isolating the items
 * that `isRefusal` says the database refuses. `apply` must deal with transient failures itself
 * (retry them): any error it throws that is not a refusal is thrown from here at once, and what
 * was applied before it stays applied (applying is idempotent, so the caller may retry it all).
 */
export async function isolateRefused<T, R>(
  items: readonly T[],
  failure: unknown,
  apply: (part: readonly T[]) => Promise<R>,
  isRefusal: (error: unknown) => boolean,
): Promise<Isolation<T, R>> {
  const applied: R[] = []
  const refused: Refusal<T>[] = []
  let transactions = 0

  // Depth first, left before right, so parts are applied in the batch's order.
  const visit = async (from: number, to: number, knownFailure: unknown): Promise<void> => {
    let error = knownFailure
    if (error === undefined) {
      transactions++
      try {
        applied.push(await apply(items.slice(from, to)))
        return
      } catch (thrown) {
        if (!isRefusal(thrown)) throw thrown
        error = thrown
      }
    }
    if (to - from === 1) {
      refused.push({ item: items[from] as T, error })
      return
    }
    const middle = from + Math.ceil((to - from) / 2)
    await visit(from, middle, undefined)
    await visit(middle, to, undefined)
  }

  if (items.length > 0) await visit(0, items.length, failure ?? new Error('the batch failed'))
  return { applied, refused, transactions }
}
