/**
 * The CPU side of a batch, done while the previous batch is still in its transaction: parse each
 * message, fold the valid ones into the batch's plan, and set the invalid ones aside as dead
 * letters. Nothing a record holds can make this throw.
 */
import { setImmediate } from 'node:timers/promises'
import { createBatchPlanner } from '../domain/merge.ts'
import { parseRsvp } from '../domain/parse-rsvp.ts'
import { type ConsumedMessage, copyRecord } from '../kafka/client.ts'
import type { Logger } from '../observability/logger.ts'
import { type EncodedPlan, encodePlan } from '../store/rsvp-store.ts'
import type { DeadLetter } from './dead-letter.ts'

const PARSE_SLICE = 250

export interface PreparedBatch {
  /** how many messages the batch had */
  readonly messages: number
  readonly plan: EncodedPlan
  /**
   * The messages that parsed as RSVPs, in order. Kept until the batch is applied: when the
   * database refuses the batch, they are what is split to find the message it refuses.
   */
  readonly valid: readonly ConsumedMessage[]
  readonly invalid: readonly DeadLetter[]
  /** the batch's last message of each partition (its offset is what gets committed) */
  readonly commits: readonly ConsumedMessage[]
}

/** Parses and plans a batch of messages (in the order received). */
export async function prepareBatch(batch: readonly ConsumedMessage[], logger: Logger): Promise<PreparedBatch> {
  const planner = createBatchPlanner()
  const valid: ConsumedMessage[] = []
  const invalid: DeadLetter[] = []
  for (let i = 0; i < batch.length; i++) {
    // Parsing a whole batch takes tens of ms: let the transaction in flight go on between slices.
    if (i > 0 && i % PARSE_SLICE === 0) await setImmediate()
    const message = batch[i] as ConsumedMessage
    try {
      const parsed = parseRsvp(message.value)
      if (parsed.ok) {
        planner.add(parsed.rsvp)
        valid.push(message)
      } else {
        // A copy: a dead letter waits for its send, and should not keep a fetch response alive.
        invalid.push({ source: copyRecord(message), reason: parsed.reason })
      }
    } catch (error) {
      // The rules are pure and total, so this is a bug: set the message aside rather than stop
      // the partition, and say so loudly.
      logger.error(
        { err: error, partition: message.partition, offset: message.offset.toString() },
        'parsing or planning a message threw; dead-lettering it',
      )
      invalid.push({ source: copyRecord(message), reason: `internal error: ${(error as Error).message}` })
    }
  }
  return {
    messages: batch.length,
    plan: encodePlan(planner.finish()),
    valid,
    invalid,
    commits: lastPerPartition(batch),
  }
}

/** Plans messages that are known to parse (a part of a batch being bisected). */
export function planMessages(messages: readonly ConsumedMessage[]): EncodedPlan {
  const planner = createBatchPlanner()
  for (const message of messages) {
    const parsed = parseRsvp(message.value)
    if (parsed.ok) planner.add(parsed.rsvp)
  }
  return encodePlan(planner.finish())
}

function lastPerPartition(batch: readonly ConsumedMessage[]): ConsumedMessage[] {
  const last = new Map<number, ConsumedMessage>()
  for (const message of batch) {
    const seen = last.get(message.partition)
    if (!seen || message.offset > seen.offset) last.set(message.partition, message)
  }
  return [...last.values()]
}
