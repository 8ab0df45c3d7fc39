/**
 * Sends dead letters so that none can block the ingest. The producer compresses them (a message
 * that fit its source topic only because its producer compressed it must fit ours too); one that
 * the broker still refuses as too large goes as a truncated copy (see dead-letter.ts). Any other
 * failure is Kafka being unavailable: it is thrown, and the caller retries.
 */
import { AppError, ErrorCodes } from '../errors.ts'
import { isRecordTooLarge, type RawProducer, splitBySize } from '../kafka/client.ts'
import type { Logger } from '../observability/logger.ts'
import { type DeadLetter, deadLetterRecord, truncatedDeadLetterRecord } from './dead-letter.ts'

export interface SentDeadLetters {
  /** how many went as truncated copies */
  readonly truncated: number
}

/**
 * Sends `letters` to `dlqTopic` in order. A request refused as too large is sent again letter by
 * letter, and a letter refused on its own goes truncated, so a dead letter can reach the topic
 * twice (as can any after a crash): readers deduplicate by the source partition and offset.
 * Throws what the producer throws for any other failure, and RSVP_DEPENDENCY_FAILED when even a
 * truncated copy is too large (a dead-letter topic whose max.message.bytes is below ~90 KB).
 */
export async function sendDeadLetters(
  producer: RawProducer,
  letters: readonly DeadLetter[],
  dlqTopic: string,
  logger: Logger,
): Promise<SentDeadLetters> {
  let truncated = 0
  const records = letters.map((letter) => deadLetterRecord(letter, dlqTopic))
  let start = 0
  for (const chunk of splitBySize(records)) {
    const chunkLetters = letters.slice(start, start + chunk.length)
    start += chunk.length
    try {
      await producer.send(chunk)
      continue
    } catch (error) {
      if (!isRecordTooLarge(error)) throw error
    }
    for (const letter of chunkLetters) {
      try {
        await producer.send([deadLetterRecord(letter, dlqTopic)])
        continue
      } catch (error) {
        if (!isRecordTooLarge(error)) throw error
      }
      const { source } = letter
      logger.warn(
        { partition: source.partition, offset: source.offset.toString(), bytes: source.value?.length ?? 0 },
        'dead letter too large for the dead-letter topic even compressed; sending a truncated copy',
      )
      try {
        await producer.send([truncatedDeadLetterRecord(letter, dlqTopic)])
        truncated++
      } catch (error) {
        if (!isRecordTooLarge(error)) throw error
        throw new AppError(
          ErrorCodes.DEPENDENCY_FAILED,
          `even a truncated dead letter is too large for ${dlqTopic}: raise its max.message.bytes`,
          { cause: error, retryable: true, topic: dlqTopic },
        )
      }
    }
  }
  return { truncated }
}
