/**
 * The CPU side of a batch, done while the previous batch is still in its transaction: parse each
 * message, fold the valid ones into the batch's plan, and set the invalid ones aside as dead
 * letters. Nothing a record holds can make this throw.
 */
import { setImmediate } from 'node:timers/promises'
import { createBatchPlanner } from '../domain/merge.ts'
import { parseRsvp } from '../domain/parse-rsvp.ts'
import { type ConsumedMessage, copyRecord, type KafkaRecord } from '../kafka/client.ts'
import { RecordArchive } from '../kafka/record-archive.ts'
import type { Logger } from '../observability/logger.ts'
import { type EncodedPlan, encodePlan } from '../store/rsvp-store.ts'
import type { DeadLetter } from './dead-letter.ts'

const PARSE_SLICE = 250

/** A partition's position to commit (the message's offset + 1), without the message's bytes. */
export type CommitPoint = Pick<ConsumedMessage, 'partition' | 'offset' | 'commit'>

export interface PreparedBatch {
  /** how many messages the batch had */
  readonly messages: number
  readonly plan: EncodedPlan
  /**
   * The messages that parsed as RSVPs, in order, copied out of their fetch responses. Kept until
   * the batch is applied: when the database refuses the batch, they are what is split to find
   * the message it refuses.
   */
  readonly valid: RecordArchive
  readonly invalid: readonly DeadLetter[]
  /** the position of the batch's last message in each partition: what gets committed */
  readonly commits: readonly CommitPoint[]
}

/**
 * Parses and plans a batch of messages (in the order received). Takes the messages out of
 * `batch` as it goes (the array is empty when it resolves), so that each consumed message, and
 * in time the fetch response it is a slice of, can be collected once parsed: what the prepared
 * batch keeps is the plan, copies of the valid messages' bytes, and each partition's commit point.
 */
export async function prepareBatch(batch: ConsumedMessage[], logger: Logger): Promise<PreparedBatch> {
  const messages = batch.length
  const commits = lastPerPartition(batch)
  const planner = createBatchPlanner()
  const valid = new RecordArchive()
  const invalid: DeadLetter[] = []
  for (let i = 0; i < messages; i++) {
    // Parsing a whole batch takes tens of ms: let the transaction in flight go on between slices.
    if (i > 0 && i % PARSE_SLICE === 0) await setImmediate()
    const message = batch[i] as ConsumedMessage
    ;(batch as (ConsumedMessage | undefined)[])[i] = undefined
    try {
      const parsed = parseRsvp(message.value)
      if (parsed.ok) {
        // Archived first: a message that cannot be kept for isolation must not be counted either.
        valid.add(message)
        planner.add(parsed.rsvp)
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
  batch.length = 0
  return { messages, plan: encodePlan(planner.finish()), valid, invalid, commits }
}

/** Plans messages that are known to parse (a part of a batch being bisected). */
export function planMessages(messages: readonly KafkaRecord[]): EncodedPlan {
  const planner = createBatchPlanner()
  for (const message of messages) {
    const parsed = parseRsvp(message.value)
    if (parsed.ok) planner.add(parsed.rsvp)
  }
  return encodePlan(planner.finish())
}

function lastPerPartition(batch: readonly ConsumedMessage[]): CommitPoint[] {
  const last = new Map<number, ConsumedMessage>()
  for (const message of batch) {
    const seen = last.get(message.partition)
    if (!seen || message.offset > seen.offset) last.set(message.partition, message)
  }
  return [...last.values()].map(({ partition, offset, commit }) => ({ partition, offset, commit }))
}
