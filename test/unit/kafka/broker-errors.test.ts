import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MultipleErrors, ProtocolError, ResponseError } from '@platformatic/kafka'
import { brokerErrors, isRecordTooLarge, topicRefusal } from '../../../src/kafka/broker-errors.ts'

// The shape the client gives a refused CreateTopics: MultipleErrors > ResponseError > ProtocolError.
function createTopicsFailure(code: number, message: string | null): Error {
  const response = new ResponseError(19, 7, { '/topics/0': [code, message] }, {})
  return new MultipleErrors('Creating topics failed.', [response])
}

describe('brokerErrors', () => {
  test("should find each broker answer nested in the client's errors, with the broker's message", () => {
    const failure = createTopicsFailure(17, "Topic 'a.b' collides with existing topic: a_b")
    assert.deepEqual(brokerErrors(failure), [
      { code: 'INVALID_TOPIC_EXCEPTION', message: "Topic 'a.b' collides with existing topic: a_b" },
    ])
    assert.deepEqual(brokerErrors(new Error('wrapped', { cause: failure })), brokerErrors(failure))
    // ensureTopics tells a topic made meanwhile by another process this way (JSON.stringify of the
    // error, used before, holds none of the nested codes)
    const exists = createTopicsFailure(36, "Topic 'x' already exists.")
    assert.deepEqual(
      brokerErrors(exists).map(({ code }) => code),
      ['TOPIC_ALREADY_EXISTS'],
    )
    assert.equal(JSON.stringify(exists).includes('TOPIC_ALREADY_EXISTS'), false)
  })

  test('should find none in an error of our own or of the network, and survive a cycle', () => {
    assert.deepEqual(brokerErrors(new Error('connect ECONNREFUSED')), [])
    assert.deepEqual(brokerErrors(undefined), [])
    const cyclic = new AggregateError([], 'x') as AggregateError & { cause?: unknown }
    cyclic.cause = cyclic
    assert.deepEqual(brokerErrors(cyclic), [])
  })
})

describe('isRecordTooLarge', () => {
  test('should find MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE, and nothing else', () => {
    assert.equal(isRecordTooLarge(new MultipleErrors('Producing messages failed.', [new ProtocolError(10)])), true)
    assert.equal(isRecordTooLarge(new AggregateError([new ProtocolError('RECORD_LIST_TOO_LARGE')])), true)
    assert.equal(isRecordTooLarge(new AggregateError([new ProtocolError('NOT_LEADER_OR_FOLLOWER')])), false)
  })
})

describe('topicRefusal', () => {
  test("should name a refusal no retry changes, with the broker's message", () => {
    assert.equal(
      topicRefusal(createTopicsFailure(17, "Topic 'a.b' collides with existing topic: a_b")),
      "INVALID_TOPIC_EXCEPTION: Topic 'a.b' collides with existing topic: a_b",
    )
    assert.equal(topicRefusal(createTopicsFailure(29, null)), 'TOPIC_AUTHORIZATION_FAILED')
    assert.equal(topicRefusal(createTopicsFailure(44, 'no')), 'POLICY_VIOLATION: no')
  })

  test('should leave out what may pass: an outage, an election, a topic made meanwhile', () => {
    assert.equal(topicRefusal(createTopicsFailure(5, null)), undefined) // LEADER_NOT_AVAILABLE
    assert.equal(topicRefusal(createTopicsFailure(41, null)), undefined) // NOT_CONTROLLER
    // a broker gone since ensureTopics sized the factor by the live ones
    assert.equal(topicRefusal(createTopicsFailure(38, 'only 2 broker(s) are registered')), undefined)
    assert.equal(topicRefusal(createTopicsFailure(36, null)), undefined) // TOPIC_ALREADY_EXISTS
    assert.equal(topicRefusal(new Error('connect ECONNREFUSED 127.0.0.1:9092')), undefined)
  })
})
