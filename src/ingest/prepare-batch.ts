/**
 * The CPU side of a batch, done while the previous batch is still in its transaction: parse each
 * message, fold the valid ones into the batch's plan, and set the invalid ones aside as dead
 * letters. Nothing a record holds can make this throw.
 */
import { setImmediate } from 'node:timers/promises'
import { createBatchPlanner } from '../domain/merge.ts'
import { parseRsvp } from '../domain/parse-rsvp.ts'
import { copyRecord, type KafkaRecord } from '../kafka/client.ts'
import type { RecordArchive } from '../kafka/record-archive.ts'
import type { Logger } from '../observability/logger.ts'
import { type EncodedPlan, encodePlan } from '../store/rsvp-store.ts'
import type { DeadLetter } from './dead-letter.ts'
import type { CommitPoint, RecordBatch } from './record-batches.ts'

const PARSE_SLICE = 250

export interface PreparedBatch {
  /** how many messages the batch had */
  readonly messages: number
  readonly plan: EncodedPlan
  /**
   * The batch's messages, copied out of their fetch responses as they arrived, and the positions
   * in it of those that parsed as RSVPs, in order. Kept until the batch is applied: when the
   * database refuses the batch, the valid messages are what is split to find the one it refuses.
   */
  readonly records: RecordArchive
  readonly valid: readonly number[]
  readonly invalid: readonly DeadLetter[]
  /** the position of the batch's last message in each partition: what gets committed */
  readonly commits: readonly CommitPoint[]
}

/**
 * Parses and plans a batch of messages (in the order received), one value at a time straight
 * from the batch's archive: nothing built per message outlives its parse but the plan's winners.
 */
export async function prepareBatch(batch: RecordBatch, logger: Logger): Promise<PreparedBatch> {
  const { records, commits } = batch
  const messages = records.length
  const planner = createBatchPlanner()
  const valid: number[] = []
  const invalid: DeadLetter[] = []
  for (let i = 0; i < messages; i++) {
    // Parsing a whole batch takes tens of ms: let the transaction in flight go on between slices.
    if (i > 0 && i % PARSE_SLICE === 0) await setImmediate()
    try {
      const parsed = parseRsvp(records.value(i))
      if (parsed.ok) {
        valid.push(i)
        planner.add(parsed.rsvp)
      } else {
        // A copy: a dead letter waits for its send, the archive goes with the batch.
        invalid.push({ source: copyRecord(records.get(i)), reason: parsed.reason })
      }
    } catch (error) {
      // The rules are pure and total, so this is a bug: set the message aside rather than stop
      // the partition, and say so loudly.
      const message = records.get(i)
      logger.error(
        { err: error, partition: message.partition, offset: message.offset.toString() },
        'parsing or planning a message threw; dead-lettering it',
      )
      invalid.push({ source: copyRecord(message), reason: `internal error: ${(error as Error).message}` })
    }
  }
  return { messages, plan: encodePlan(planner.finish()), records, valid, invalid, commits }
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
