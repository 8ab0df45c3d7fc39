import type { ConsumedMessage, OutgoingMessage } from '../kafka/client.ts'

/**
 * The dead-letter copy of an invalid message: the original key and bytes untouched, and why and
 * where it came from in headers, so it can be inspected and replayed.
 */
export function toDeadLetter(message: ConsumedMessage, reason: string, dlqTopic: string): OutgoingMessage {
  return {
    topic: dlqTopic,
    key: message.key,
    value: message.value,
    headers: {
      'x-rsvp-topk-reason': reason,
      'x-rsvp-topk-source-topic': message.topic,
      'x-rsvp-topk-source-partition': String(message.partition),
      'x-rsvp-topk-source-offset': message.offset.toString(),
    },
  }
}
