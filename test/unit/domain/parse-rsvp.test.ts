import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  MAX_EVENT_ID_LENGTH,
  MAX_GUESTS,
  MAX_MTIME,
  MAX_TEXT_LENGTH,
  MAX_TOPICS,
  parseRsvp,
} from '../../../src/domain/parse-rsvp.ts'
import type { Rsvp } from '../../../src/domain/rsvp.ts'

type Message = Record<string, unknown>

/** A complete message in the upstream format, with invented content. */
function fullMessage(): Message {
  return {
    venue: { venue_name: 'The Corner Cafe', lon: -73.98765, lat: 40.712345, venue_id: 24_000_001 },
    visibility: 'public',
    response: 'yes',
    guests: 2,
    member: { member_id: 190_000_001, photo: 'https://img.example/m/1.jpeg', member_name: 'Ada Example' },
    rsvp_id: 1_700_000_001,
    mtime: 1_489_925_470_960,
    event: {
      event_name: 'Board games night',
      event_id: 'qwzxcvbnmlkj',
      time: 1_491_613_200_000,
      event_url: 'https://www.example.com/board-games/events/qwzxcvbnmlkj/',
    },
    group: {
      group_topics: [
        { urlkey: 'board-games', topic_name: 'Board Games' },
        { urlkey: 'social', topic_name: 'Social' },
      ],
      group_city: 'New York',
      group_country: 'us',
      group_id: 20_000_001,
      group_name: 'Board Gamers NYC',
      group_lon: -74.0,
      group_urlname: 'board-gamers-nyc',
      group_lat: 40.71,
      group_state: 'NY',
    },
  }
}

const expectedFull: Rsvp = {
  rsvpId: 1_700_000_001,
  mtime: 1_489_925_470_960,
  response: 'yes',
  guests: 2,
  event: {
    eventId: 'qwzxcvbnmlkj',
    name: 'Board games night',
    url: 'https://www.example.com/board-games/events/qwzxcvbnmlkj/',
    time: 1_491_613_200_000,
  },
  group: {
    groupId: 20_000_001,
    name: 'Board Gamers NYC',
    urlname: 'board-gamers-nyc',
    city: 'New York',
    country: 'us',
    state: 'NY',
    lat: 40.71,
    lon: -74,
    topics: [
      { urlkey: 'board-games', name: 'Board Games' },
      { urlkey: 'social', name: 'Social' },
    ],
  },
  venue: { venueId: 24_000_001, name: 'The Corner Cafe', lat: 40.712345, lon: -73.98765 },
}

/** A full message with some parts replaced; a value of `undefined` removes the key. */
function messageWith(
  changes: Message,
  parts: { event?: Message; group?: Message; venue?: Message; member?: Message } = {},
) {
  const message = fullMessage()
  for (const [key, value] of Object.entries(changes)) setOrDelete(message, key, value)
  for (const [part, partChanges] of Object.entries(parts)) {
    const target = message[part] as Message
    for (const [key, value] of Object.entries(partChanges)) setOrDelete(target, key, value)
  }
  return message
}

function setOrDelete(target: Message, key: string, value: unknown): void {
  if (value === undefined) delete target[key]
  else target[key] = value
}

function parseOk(input: Message | string | Buffer): Rsvp {
  const raw = typeof input === 'string' || Buffer.isBuffer(input) ? input : JSON.stringify(input)
  const result = parseRsvp(raw)
  if (!result.ok) assert.fail(`expected a valid RSVP, got: ${result.reason}`)
  return result.rsvp
}

function reasonFor(input: Message | string | Buffer | null | unknown[]): string {
  const raw = input === null || typeof input === 'string' || Buffer.isBuffer(input) ? input : JSON.stringify(input)
  const result = parseRsvp(raw)
  if (result.ok) assert.fail(`expected an invalid message, got rsvp ${result.rsvp.rsvpId}`)
  return result.reason
}

describe('parseRsvp', () => {
  describe('valid messages', () => {
    test('should map every field of a complete message', () => {
      assert.deepEqual(parseOk(fullMessage()), expectedFull)
    })

    test('should give the same result for a Buffer and a string', () => {
      const text = JSON.stringify(fullMessage())
      assert.deepEqual(parseOk(Buffer.from(text, 'utf8')), parseOk(text))
    })

    test('should ignore unknown extra keys at every level', () => {
      const message = messageWith(
        { visibility: 'public', brand_new_field: { deeply: [1, 2, 3] } },
        {
          member: { other_services: { twitter: { identifier: '@someone' } } },
          event: { extra: true },
          group: { group_join_mode: 'open' },
          venue: { address_1: '1 Main St' },
        },
      )
      assert.deepEqual(parseOk(message), expectedFull)
    })

    test('should leave venue undefined when it is absent', () => {
      assert.equal(parseOk(messageWith({ venue: undefined })).venue, undefined)
    })

    test('should keep nothing of the member, whatever the message says of them', () => {
      for (const member of [undefined, null, 42, { member_id: -3, member_name: ['x'] }, { photo: {} }]) {
        const rsvp = parseOk(messageWith({ member }))
        assert.ok(!('member' in rsvp), 'no member in the parsed RSVP')
        assert.ok(!JSON.stringify(rsvp).includes('Ada Example'))
      }
      assert.ok(!JSON.stringify(parseOk(messageWith({}))).includes('Ada Example'), 'names and photos are not kept')
    })

    test('should leave group state undefined when group_state is absent', () => {
      const rsvp = parseOk(messageWith({}, { group: { group_state: undefined, group_country: 'de' } }))
      assert.equal(rsvp.group?.state, undefined)
      assert.equal(rsvp.group?.country, 'de')
    })

    test('should leave event.time undefined when it is absent', () => {
      const rsvp = parseOk(messageWith({}, { event: { time: undefined } }))
      assert.equal(rsvp.event.time, undefined)
      assert.equal(rsvp.event.eventId, 'qwzxcvbnmlkj')
    })

    test('should accept a message with only the required parts', () => {
      const rsvp = parseOk({ rsvp_id: 5, mtime: 1000, response: 'no', event: { event_id: 'e1' } })
      assert.deepEqual(rsvp, {
        rsvpId: 5,
        mtime: 1000,
        response: 'no',
        guests: 0,
        event: { eventId: 'e1', name: undefined, url: undefined, time: undefined },
        group: undefined,
        venue: undefined,
      })
    })

    test('should keep an alphanumeric event_id as it is', () => {
      assert.equal(parseOk(messageWith({}, { event: { event_id: 'jkpwmlywgbmb' } })).event.eventId, 'jkpwmlywgbmb')
    })

    test('should keep a numeric-looking event_id as a string', () => {
      const rsvp = parseOk(messageWith({}, { event: { event_id: '236222256' } }))
      assert.equal(rsvp.event.eventId, '236222256')
      assert.equal(typeof rsvp.event.eventId, 'string')
    })

    test('should accept an event_id of exactly the maximum length', () => {
      const eventId = 'x'.repeat(MAX_EVENT_ID_LENGTH)
      assert.equal(parseOk(messageWith({}, { event: { event_id: eventId } })).event.eventId, eventId)
    })

    test('should accept rsvp_id values beyond 32 bits and mtime 0', () => {
      const rsvp = parseOk(messageWith({ rsvp_id: 9_007_199_254_740_991, mtime: 0 }))
      assert.equal(rsvp.rsvpId, 9_007_199_254_740_991)
      assert.equal(rsvp.mtime, 0)
    })

    test('should accept the last mtime of year 9999', () => {
      assert.equal(parseOk(messageWith({ mtime: MAX_MTIME })).mtime, MAX_MTIME)
    })

    test('should accept integers written with an exponent or a zero fraction', () => {
      const rsvp = parseOk('{"rsvp_id":1.7e9,"mtime":1489925470960.0,"response":"yes","event":{"event_id":"e"}}')
      assert.equal(rsvp.rsvpId, 1_700_000_000)
      assert.equal(rsvp.mtime, 1_489_925_470_960)
    })

    test('should keep integer group coordinates', () => {
      const rsvp = parseOk(messageWith({}, { group: { group_lat: 39, group_lon: -77 } }))
      assert.equal(rsvp.group?.lat, 39)
      assert.equal(rsvp.group?.lon, -77)
    })

    test('should keep group coordinates of 0 as given', () => {
      const rsvp = parseOk(messageWith({}, { group: { group_lat: 0, group_lon: 0 } }))
      assert.equal(rsvp.group?.lat, 0)
      assert.equal(rsvp.group?.lon, 0)
    })

    test('should turn venue coordinates of 0/0 into unknown but keep the venue', () => {
      const rsvp = parseOk(messageWith({}, { venue: { venue_name: 'online', lat: 0, lon: 0, venue_id: 24_446_809 } }))
      assert.deepEqual(rsvp.venue, { venueId: 24_446_809, name: 'online', lat: undefined, lon: undefined })
    })

    test('should keep integer venue coordinates', () => {
      const rsvp = parseOk(messageWith({}, { venue: { lat: 52, lon: 13 } }))
      assert.equal(rsvp.venue?.lat, 52)
      assert.equal(rsvp.venue?.lon, 13)
    })

    test('should keep a venue on the equator (lat 0, lon not 0)', () => {
      const rsvp = parseOk(messageWith({}, { venue: { lat: 0, lon: 32.58 } }))
      assert.equal(rsvp.venue?.lat, 0)
      assert.equal(rsvp.venue?.lon, 32.58)
    })

    test('should lower-case the country', () => {
      assert.equal(parseOk(messageWith({}, { group: { group_country: 'US' } })).group?.country, 'us')
    })

    test('should keep CJK, Arabic and Hebrew text', () => {
      const rsvp = parseOk(
        messageWith(
          {},
          {
            event: { event_name: '週末ハイキング 台北 登山' },
            group: { group_name: 'مجموعة القراءة', group_city: 'תל אביב' },
          },
        ),
      )
      assert.equal(rsvp.event.name, '週末ハイキング 台北 登山')
      assert.equal(rsvp.group?.name, 'مجموعة القراءة')
      assert.equal(rsvp.group?.city, 'תל אביב')
    })

    test('should keep emoji outside the BMP, raw or escaped', () => {
      const raw = parseOk(messageWith({}, { group: { group_name: 'Zoë 🎲🏔️' } }))
      assert.equal(raw.group?.name, 'Zoë 🎲🏔️')
      const escaped = parseOk(
        '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"e","event_name":"Dice \\ud83c\\udfb2"}}',
      )
      assert.equal(escaped.event.name, 'Dice 🎲')
    })

    test('should decode multi-byte UTF-8 from a Buffer', () => {
      const bytes = Buffer.from(JSON.stringify(messageWith({}, { event: { event_name: '読書会 📚' } })), 'utf8')
      assert.equal(parseOk(bytes).event.name, '読書会 📚')
    })

    test('should keep a newline inside an event name', () => {
      assert.equal(
        parseOk(messageWith({}, { event: { event_name: 'Line one\nLine two' } })).event.name,
        'Line one\nLine two',
      )
    })

    test('should not trim leading, trailing or double spaces', () => {
      const rsvp = parseOk(messageWith({}, { venue: { venue_name: '  Benita  Hall ' } }))
      assert.equal(rsvp.venue?.name, '  Benita  Hall ')
    })

    test('should decode escaped slashes and escaped quotes', () => {
      const rsvp = parseOk(
        '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"e",' +
          '"event_url":"https:\\/\\/www.example.com\\/g\\/events\\/1\\/","event_name":"The \\"big\\" one"}}',
      )
      assert.equal(rsvp.event.url, 'https://www.example.com/g/events/1/')
      assert.equal(rsvp.event.name, 'The "big" one')
    })

    test('should keep a long URL as a venue name', () => {
      const name = `https://example.com/${'a'.repeat(300)}`
      assert.equal(parseOk(messageWith({}, { venue: { venue_name: name } })).venue?.name, name)
    })

    test('should cut free text to the maximum length', () => {
      const rsvp = parseOk(messageWith({}, { event: { event_name: 'n'.repeat(MAX_TEXT_LENGTH + 500) } }))
      assert.equal(rsvp.event.name, 'n'.repeat(MAX_TEXT_LENGTH))
    })

    test('should not split a surrogate pair when cutting text', () => {
      const name = `${'n'.repeat(MAX_TEXT_LENGTH - 1)}🎲tail`
      const cut = parseOk(messageWith({}, { event: { event_name: name } })).event.name ?? ''
      assert.equal(cut, 'n'.repeat(MAX_TEXT_LENGTH - 1))
      assert.ok(cut.isWellFormed())
    })

    test('should keep a lone high surrogate at the cut as U+FFFD, like any unpaired surrogate', () => {
      const name = `${'n'.repeat(MAX_TEXT_LENGTH - 1)}\ud800tail`
      const cut = parseOk(messageWith({}, { event: { event_name: name } })).event.name ?? ''
      assert.equal(cut, `${'n'.repeat(MAX_TEXT_LENGTH - 1)}\uFFFD`)
    })

    test('should replace NUL and unpaired surrogates in free text, which PostgreSQL cannot store', () => {
      const rsvp = parseOk(
        '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"e","event_name":"a\\u0000b\\ud800c"},' +
          '"group":{"group_id":3,"group_topics":[{"urlkey":"k\\u0000","topic_name":"\\udc00"}]}}',
      )
      assert.equal(rsvp.event.name, 'a\uFFFDb\uFFFDc')
      assert.deepEqual(rsvp.group?.topics, [{ urlkey: 'k\uFFFD', name: '\uFFFD' }])
    })

    test('should keep a response other than yes or no as given', () => {
      assert.equal(parseOk(messageWith({ response: 'waitlist' })).response, 'waitlist')
      assert.equal(parseOk(messageWith({ response: '' })).response, '')
    })

    test('should keep guests as given when usable', () => {
      assert.equal(parseOk(messageWith({ guests: 24 })).guests, 24)
      assert.equal(parseOk(messageWith({ guests: MAX_GUESTS })).guests, MAX_GUESTS)
    })

    test('should default guests to 0 when absent', () => {
      assert.equal(parseOk(messageWith({ guests: undefined })).guests, 0)
    })

    for (const [label, guests] of [
      ['negative', -1],
      ['fractional', 1.5],
      ['a string', '2'],
      ['null', null],
      ['above the maximum', MAX_GUESTS + 1],
    ] as const) {
      test(`should default guests to 0 when it is ${label}`, () => {
        assert.equal(parseOk(messageWith({ guests })).guests, 0)
      })
    }

    test('should turn a JSON -0 into 0', () => {
      const rsvp = parseOk('{"rsvp_id":1,"mtime":-0,"guests":-0,"response":"yes","event":{"event_id":"e"}}')
      assert.ok(Object.is(rsvp.mtime, 0))
      assert.ok(Object.is(rsvp.guests, 0))
    })

    test('should drop a venue that is not an object', () => {
      assert.equal(parseOk(messageWith({ venue: 'Online event' })).venue, undefined)
      assert.equal(parseOk(messageWith({ venue: [1, 2] })).venue, undefined)
      assert.equal(parseOk(messageWith({ venue: null })).venue, undefined)
    })

    test('should drop a venue or group without a usable integer id', () => {
      assert.equal(parseOk(messageWith({}, { venue: { venue_id: undefined } })).venue, undefined)
      assert.equal(parseOk(messageWith({}, { venue: { venue_id: '24000001' } })).venue, undefined)
      assert.equal(parseOk(messageWith({}, { group: { group_id: 20.5 } })).group, undefined)
      assert.equal(parseOk(messageWith({}, { group: { group_id: 0 } })).group, undefined)
    })

    test('should drop a group that is not an object', () => {
      const rsvp = parseOk(messageWith({ group: 'g' }))
      assert.equal(rsvp.group, undefined)
    })

    test('should drop venue coordinates that are not numbers or out of range, as a pair', () => {
      const notNumber = parseOk(messageWith({}, { venue: { lat: '40.7', lon: -73.9 } })).venue
      assert.deepEqual([notNumber?.lat, notNumber?.lon], [undefined, undefined])
      const outOfRange = parseOk(messageWith({}, { venue: { lat: 95, lon: -73.9 } })).venue
      assert.deepEqual([outOfRange?.lat, outOfRange?.lon], [undefined, undefined])
      const infinite = parseOk(
        '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"e"},"venue":{"venue_id":3,"lat":1e400,"lon":5}}',
      )
      assert.deepEqual([infinite.venue?.lat, infinite.venue?.lon], [undefined, undefined])
      assert.equal(notNumber?.venueId, 24_000_001)
    })

    test('should drop group coordinates that are not numbers, one by one', () => {
      const rsvp = parseOk(messageWith({}, { group: { group_lat: 'north', group_lon: -77 } }))
      assert.equal(rsvp.group?.lat, undefined)
      assert.equal(rsvp.group?.lon, -77)
    })

    test('should drop optional text that is not a string', () => {
      const rsvp = parseOk(
        messageWith(
          {},
          {
            event: { event_name: 12, event_url: null },
            group: { group_name: ['x'], group_country: 1 },
          },
        ),
      )
      assert.equal(rsvp.event.name, undefined)
      assert.equal(rsvp.event.url, undefined)
      assert.equal(rsvp.group?.name, undefined)
      assert.equal(rsvp.group?.country, undefined)
    })

    test('should drop an event.time that is not a safe integer', () => {
      assert.equal(parseOk(messageWith({}, { event: { time: '1491613200000' } })).event.time, undefined)
      assert.equal(parseOk(messageWith({}, { event: { time: 1.5 } })).event.time, undefined)
      assert.equal(parseOk(messageWith({}, { event: { time: 2 ** 60 } })).event.time, undefined)
    })

    test('should give no topics when group_topics is not an array', () => {
      assert.deepEqual(parseOk(messageWith({}, { group: { group_topics: { urlkey: 'x' } } })).group?.topics, [])
      assert.deepEqual(parseOk(messageWith({}, { group: { group_topics: undefined } })).group?.topics, [])
    })

    test('should drop topics without a non-empty string urlkey and default a missing name to empty', () => {
      const topics = [
        { urlkey: 'hiking', topic_name: 'Hiking' },
        { topic_name: 'No key' },
        { urlkey: 7, topic_name: 'Number key' },
        { urlkey: '', topic_name: 'Empty key' },
        'not-an-object',
        null,
        { urlkey: 'nameless' },
      ]
      assert.deepEqual(parseOk(messageWith({}, { group: { group_topics: topics } })).group?.topics, [
        { urlkey: 'hiking', name: 'Hiking' },
        { urlkey: 'nameless', name: '' },
      ])
    })

    test('should keep the first of topics with the same urlkey', () => {
      const topics = [
        { urlkey: 'hiking', topic_name: 'Hiking' },
        { urlkey: 'hiking', topic_name: 'Hiking again' },
      ]
      assert.deepEqual(parseOk(messageWith({}, { group: { group_topics: topics } })).group?.topics, [
        { urlkey: 'hiking', name: 'Hiking' },
      ])
    })

    test('should keep at most the maximum number of topics', () => {
      const topics = Array.from({ length: MAX_TOPICS + 20 }, (_, i) => ({ urlkey: `t${i}`, topic_name: `T${i}` }))
      const parsed = parseOk(messageWith({}, { group: { group_topics: topics } })).group?.topics ?? []
      assert.equal(parsed.length, MAX_TOPICS)
      assert.deepEqual(parsed.at(-1), { urlkey: `t${MAX_TOPICS - 1}`, name: `T${MAX_TOPICS - 1}` })
    })

    test('should give byte-identical resends identical results', () => {
      const text = JSON.stringify(fullMessage())
      assert.deepEqual(parseOk(text), parseOk(text))
    })
  })

  describe('invalid messages', () => {
    const cases: { name: string; input: Message | string | Buffer | null | unknown[]; reason: string }[] = [
      { name: 'text that is not JSON', input: 'hello', reason: 'not JSON' },
      { name: 'a truncated message', input: JSON.stringify(fullMessage()).slice(0, 100), reason: 'not JSON' },
      { name: 'an empty message', input: '', reason: 'empty message' },
      { name: 'an empty Buffer', input: Buffer.alloc(0), reason: 'empty message' },
      { name: 'a Kafka record without a value (a tombstone)', input: null, reason: 'empty message' },
      {
        name: 'bytes that are not valid UTF-8',
        input: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        reason: 'not valid UTF-8',
      },
      { name: 'a JSON array', input: [fullMessage()], reason: 'not a JSON object' },
      { name: 'JSON null', input: 'null', reason: 'not a JSON object' },
      { name: 'a JSON number', input: '1658733801', reason: 'not a JSON object' },
      { name: 'a JSON string', input: '"yes"', reason: 'not a JSON object' },
      { name: 'a JSON boolean', input: 'true', reason: 'not a JSON object' },
      { name: 'a missing rsvp_id', input: messageWith({ rsvp_id: undefined }), reason: 'rsvp_id is missing' },
      {
        name: 'a string rsvp_id',
        input: messageWith({ rsvp_id: '1658733801' }),
        reason: 'rsvp_id must be a positive integer',
      },
      {
        name: 'a fractional rsvp_id',
        input: messageWith({ rsvp_id: 1.5 }),
        reason: 'rsvp_id must be a positive integer',
      },
      { name: 'a zero rsvp_id', input: messageWith({ rsvp_id: 0 }), reason: 'rsvp_id must be a positive integer' },
      { name: 'a negative rsvp_id', input: messageWith({ rsvp_id: -7 }), reason: 'rsvp_id must be a positive integer' },
      { name: 'a null rsvp_id', input: messageWith({ rsvp_id: null }), reason: 'rsvp_id must be a positive integer' },
      {
        name: 'an unsafe rsvp_id',
        input: messageWith({ rsvp_id: 2 ** 53 }),
        reason: 'rsvp_id must be a positive integer',
      },
      { name: 'a missing mtime', input: messageWith({ mtime: undefined }), reason: 'mtime is missing' },
      {
        name: 'a string mtime',
        input: messageWith({ mtime: '1489925470960' }),
        reason: 'mtime must be a non-negative integer (epoch ms)',
      },
      {
        name: 'a negative mtime',
        input: messageWith({ mtime: -1 }),
        reason: 'mtime must be a non-negative integer (epoch ms)',
      },
      {
        name: 'a fractional mtime',
        input: messageWith({ mtime: 1489925470960.5 }),
        reason: 'mtime must be a non-negative integer (epoch ms)',
      },
      {
        name: 'an mtime after year 9999',
        input: messageWith({ mtime: MAX_MTIME + 1 }),
        reason: 'mtime must be before year 10000',
      },
      { name: 'a missing response', input: messageWith({ response: undefined }), reason: 'response is missing' },
      { name: 'a numeric response', input: messageWith({ response: 1 }), reason: 'response must be a string' },
      { name: 'a boolean response', input: messageWith({ response: true }), reason: 'response must be a string' },
      { name: 'a null response', input: messageWith({ response: null }), reason: 'response must be a string' },
      { name: 'a missing event', input: messageWith({ event: undefined }), reason: 'event is missing' },
      { name: 'a string event', input: messageWith({ event: 'jkpwmlywgbmb' }), reason: 'event must be an object' },
      { name: 'an array event', input: messageWith({ event: [] }), reason: 'event must be an object' },
      { name: 'a null event', input: messageWith({ event: null }), reason: 'event must be an object' },
      {
        name: 'a missing event.event_id',
        input: messageWith({}, { event: { event_id: undefined } }),
        reason: 'event.event_id is missing',
      },
      {
        name: 'a numeric event.event_id',
        input: messageWith({}, { event: { event_id: 236222256 } }),
        reason: 'event.event_id must be a non-empty string',
      },
      {
        name: 'an empty event.event_id',
        input: messageWith({}, { event: { event_id: '' } }),
        reason: 'event.event_id must be a non-empty string',
      },
      {
        name: 'an event.event_id longer than the maximum',
        input: messageWith({}, { event: { event_id: 'x'.repeat(MAX_EVENT_ID_LENGTH + 1) } }),
        reason: `event.event_id must be at most ${MAX_EVENT_ID_LENGTH} characters`,
      },
      {
        name: 'an event.event_id with a NUL',
        input: '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"ab\\u0000"}}',
        reason: 'event.event_id must not contain NUL or unpaired surrogates',
      },
      {
        name: 'an event.event_id with an unpaired surrogate',
        input: '{"rsvp_id":1,"mtime":2,"response":"yes","event":{"event_id":"ab\\ud800"}}',
        reason: 'event.event_id must not contain NUL or unpaired surrogates',
      },
    ]

    for (const { name, input, reason } of cases) {
      test(`should reject ${name}`, () => {
        assert.equal(reasonFor(input), reason)
      })
    }

    test('should report the first unusable required field, in the order rsvp_id, mtime, response, event', () => {
      const allBad = { rsvp_id: 'x', mtime: 'y', response: 3, event: 4 }
      assert.equal(reasonFor(allBad), 'rsvp_id must be a positive integer')
      assert.equal(reasonFor({ ...allBad, rsvp_id: 1 }), 'mtime must be a non-negative integer (epoch ms)')
      assert.equal(reasonFor({ ...allBad, rsvp_id: 1, mtime: 2 }), 'response must be a string')
      assert.equal(reasonFor({ ...allBad, rsvp_id: 1, mtime: 2, response: 'yes' }), 'event must be an object')
    })

    test('should never throw on arbitrary bytes or mangled messages', () => {
      let seed = 12_345
      const random = (): number => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
        return seed / 2_147_483_648
      }
      const text = JSON.stringify(fullMessage())
      let valid = 0
      for (let i = 0; i < 2000; i++) {
        const bytes = Buffer.from(text)
        const flips = 1 + Math.floor(random() * 4)
        for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
        const result = parseRsvp(random() < 0.5 ? bytes : bytes.toString('latin1'))
        if (result.ok) {
          valid++
          assert.equal(typeof result.rsvp.event.eventId, 'string')
          assert.ok(result.rsvp.guests >= 0)
        } else {
          assert.ok(result.reason.length > 0)
        }
      }
      // Flipping a byte inside a name leaves the message valid; inside the structure it does not.
      assert.ok(valid > 0 && valid < 2000, `valid=${valid}`)
    })
  })
})
