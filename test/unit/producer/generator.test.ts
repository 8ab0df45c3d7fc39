import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type GeneratedMessage, type GeneratorOptions, generateStream } from '../../../src/producer/generator.ts'
import { createRandom } from '../../../src/producer/random.ts'
import { computeExpected } from '../../support/contract-oracle.ts'

const START = Date.UTC(2026, 0, 1)
const DAY = 86_400_000
const COUNT = 20_000

type Json = Record<string, unknown>

function generate(options: GeneratorOptions): GeneratedMessage[] {
  return [...generateStream(options)]
}

// one shared stream: building it once keeps the file fast
const stream = generate({ count: COUNT, seed: 7 })
const valid = stream.filter((m) => m.kind !== 'invalid').map((m) => ({ ...m, json: JSON.parse(m.value) as Json }))
const invalid = stream.filter((m) => m.kind === 'invalid')

function obj(value: unknown): Json {
  assert.equal(typeof value, 'object')
  assert.ok(value !== null && !Array.isArray(value))
  return value as Json
}

function codePoints(text: string): number {
  return Array.from(text).length
}

describe('createRandom', () => {
  test('should repeat its sequence for a seed and differ for another', () => {
    const a = createRandom(1)
    const b = createRandom(1)
    const c = createRandom(2)
    const seqA = Array.from({ length: 50 }, () => a.next())
    assert.deepEqual(
      seqA,
      Array.from({ length: 50 }, () => b.next()),
    )
    assert.notDeepEqual(
      seqA,
      Array.from({ length: 50 }, () => c.next()),
    )
    assert.ok(seqA.every((x) => x >= 0 && x < 1))
  })

  test('should tell seeds apart above 32 bits', () => {
    assert.notEqual(createRandom(5).next(), createRandom(5 + 2 ** 32).next())
  })

  test('int should stay within its inclusive bounds and reach both ends', () => {
    const r = createRandom(3)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const n = r.int(-2, 3)
      assert.ok(Number.isInteger(n) && n >= -2 && n <= 3, `${n}`)
      seen.add(n)
    }
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      [-2, -1, 0, 1, 2, 3],
    )
  })

  test('pick and chance should follow their arguments', () => {
    const r = createRandom(4)
    assert.throws(() => r.pick([]), RangeError)
    assert.equal(r.pick(['only']), 'only')
    let hits = 0
    for (let i = 0; i < 10_000; i++) if (r.chance(0.25)) hits++
    assert.ok(hits > 2300 && hits < 2700, `${hits}`)
    assert.ok(!r.chance(0))
  })

  test('zipf should favour low indexes by 1/(i+1)^s and stay fast for a million items', () => {
    const r = createRandom(5)
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const k = r.zipf(10, 1)
      assert.ok(k >= 0 && k < 10)
      counts[k] = (counts[k] as number) + 1
    }
    // weights 1, 1/2, ... 1/10 sum to 2.929; index 0 gets 34.1%, index 1 17.1%, index 9 3.4%
    assert.ok(Math.abs((counts[0] as number) / 100_000 - 0.341) < 0.01, `${counts[0]}`)
    assert.ok(Math.abs((counts[0] as number) / (counts[1] as number) - 2) < 0.1)
    assert.ok(Math.abs((counts[9] as number) / 100_000 - 0.0341) < 0.004)
    const started = performance.now()
    let max = 0
    for (let i = 0; i < 200_000; i++) max = Math.max(max, r.zipf(1_000_000, 1))
    assert.ok(max < 1_000_000 && max > 1000)
    assert.ok(performance.now() - started < 3000, 'a million-item zipf draws quickly')
  })
})

describe('generateStream', () => {
  test('should yield the same stream for the same seed and another for another seed', () => {
    const a = generate({ count: 3000, seed: 11 })
    const b = generate({ count: 3000, seed: 11 })
    const c = generate({ count: 3000, seed: 12 })
    assert.deepEqual(a, b)
    assert.notEqual(a[0]?.value, c[0]?.value)
    const differing = a.filter((m, i) => m.value !== c[i]?.value).length
    assert.ok(differing > 2900, `${differing} of 3000 differ`)
  })

  test('should yield exactly count messages', () => {
    for (const count of [0, 1, 17, 2500]) {
      assert.equal(generate({ count, seed: 1 }).length, count)
    }
    assert.equal(stream.length, COUNT)
  })

  test('should reject unusable options', () => {
    assert.throws(() => generate({ count: -1, seed: 1 }), RangeError)
    assert.throws(() => generate({ count: 1.5, seed: 1 }), RangeError)
    assert.throws(() => generate({ count: 1, seed: 1, countries: 999 }), RangeError)
    assert.throws(() => generate({ count: 1, seed: 1, events: 0 }), RangeError)
    assert.throws(() => generate({ count: 1, seed: 1, invalidShare: 0.6, resendShare: 0.6 }), /more than 1/)
  })

  test('should mix every kind in about its configured share', () => {
    const shares: Record<GeneratedMessage['kind'], number> = {
      invalid: 0.01,
      resend: 0.05,
      'truncated-resend': 0.03,
      flip: 0.05,
      update: 0.03,
      move: 0.01,
      stale: 0.02,
      new: 0.8,
    }
    const counts = new Map<string, number>()
    for (const m of stream) counts.set(m.kind, (counts.get(m.kind) ?? 0) + 1)
    for (const [kind, share] of Object.entries(shares)) {
      const observed = (counts.get(kind) ?? 0) / COUNT
      // four standard deviations of a binomial draw of COUNT messages
      const tolerance = 4 * Math.sqrt((share * (1 - share)) / COUNT)
      assert.ok(Math.abs(observed - share) <= tolerance, `${kind}: ${observed} vs ${share}`)
    }
  })

  test('should follow custom shares', () => {
    const custom = generate({
      count: 4000,
      seed: 3,
      invalidShare: 0.5,
      resendShare: 0,
      truncatedResendShare: 0,
      flipShare: 0.2,
      updateShare: 0,
      moveShare: 0,
      staleShare: 0,
    })
    const kinds = new Set(custom.map((m) => m.kind))
    assert.deepEqual([...kinds].sort(), ['flip', 'invalid', 'new'])
    const invalidShare = custom.filter((m) => m.kind === 'invalid').length / 4000
    assert.ok(Math.abs(invalidShare - 0.5) < 0.04, `${invalidShare}`)
  })

  test('every valid message should carry the required fields with the right types', () => {
    for (const { value, json } of valid) {
      assert.equal(typeof json.rsvp_id, 'number', value)
      assert.ok(Number.isSafeInteger(json.rsvp_id) && (json.rsvp_id as number) > 0)
      assert.ok(Number.isSafeInteger(json.mtime) && (json.mtime as number) > 0)
      assert.ok(json.response === 'yes' || json.response === 'no')
      assert.equal(json.visibility, 'public')
      assert.ok(Number.isSafeInteger(json.guests) && (json.guests as number) >= 0 && (json.guests as number) <= 24)
      const event = obj(json.event)
      assert.equal(typeof event.event_id, 'string')
      assert.notEqual(event.event_id, '')
      assert.equal(typeof event.event_name, 'string')
      assert.match(event.event_url as string, /^https:\/\/www\.example\.com\/.+\/events\/\d+\/$/)
      assert.ok(event.time === undefined || Number.isSafeInteger(event.time))
      const member = obj(json.member)
      assert.ok(Number.isSafeInteger(member.member_id))
      assert.equal(typeof member.member_name, 'string')
      assert.ok(member.photo === undefined || typeof member.photo === 'string')
      const group = obj(json.group)
      assert.ok(Number.isSafeInteger(group.group_id))
      assert.match(group.group_country as string, /^[a-z]{2}$/)
      assert.equal(group.group_state !== undefined, ['us', 'ca'].includes(group.group_country as string))
      assert.equal(typeof group.group_lat, 'number')
      assert.equal(typeof group.group_lon, 'number')
      assert.ok(Array.isArray(group.group_topics) && group.group_topics.length > 0)
      for (const topic of group.group_topics as unknown[]) {
        assert.equal(typeof obj(topic).urlkey, 'string')
        assert.equal(typeof obj(topic).topic_name, 'string')
      }
      if (json.venue !== undefined) {
        const venue = obj(json.venue)
        assert.ok(Number.isSafeInteger(venue.venue_id))
        assert.equal(typeof venue.lat, 'number')
        assert.equal(typeof venue.lon, 'number')
        assert.ok(codePoints(venue.venue_name as string) <= 128)
      }
      for (const name of [event.event_name, group.group_name, member.member_name]) {
        assert.ok(codePoints(name as string) <= 80, `${name} is longer than 80`)
      }
      // optional keys are absent, never null; slashes are escaped as upstream writes them
      assert.ok(!value.includes(':null'), value)
      assert.ok(!value.includes('https://') && value.includes('https:\\/\\/'))
      assert.deepEqual(Object.keys(json).slice(-8), [
        'visibility',
        'response',
        'guests',
        'member',
        'rsvp_id',
        'mtime',
        'event',
        'group',
      ])
    }
  })

  test('valid messages should count as valid and invalid ones as invalid under the contract', () => {
    for (const m of valid) assert.equal(computeExpected([m.value]).valid, 1, m.value)
    assert.ok(invalid.length > 100)
    for (const m of invalid) assert.equal(computeExpected([m.value]).invalid, 1, m.value)
  })

  test('invalid messages should break the contract in many different ways', () => {
    const reasons = new Set<string>()
    for (const { value } of invalid) {
      let parsed: unknown
      try {
        parsed = JSON.parse(value)
      } catch {
        reasons.add(value.startsWith('{"') && !value.endsWith('}') ? 'truncated' : 'not json')
        continue
      }
      if (parsed === null) reasons.add('null')
      else if (Array.isArray(parsed)) reasons.add('array')
      else if (typeof parsed !== 'object') reasons.add('scalar')
      else {
        const o = parsed as Json
        const event = o.event as Json | undefined
        if (!('rsvp_id' in o)) reasons.add('no rsvp_id')
        else if (typeof o.rsvp_id === 'string') reasons.add('string rsvp_id')
        else if (!('mtime' in o)) reasons.add('no mtime')
        else if (typeof o.mtime === 'string') reasons.add('string mtime')
        else if (!('response' in o)) reasons.add('no response')
        else if (typeof o.response === 'number') reasons.add('number response')
        else if (event === undefined) reasons.add('no event')
        else if (typeof event.event_id === 'number') reasons.add('number event_id')
        else if (event.event_id === '') reasons.add('empty event_id')
        else reasons.add(`unexpected: ${value}`)
      }
    }
    assert.deepEqual([...reasons].sort(), [
      'array',
      'empty event_id',
      'no event',
      'no mtime',
      'no response',
      'no rsvp_id',
      'not json',
      'null',
      'number event_id',
      'number response',
      'scalar',
      'string mtime',
      'string rsvp_id',
      'truncated',
    ])
  })

  test('keys should be the rsvp_id, for invalid messages only when they still name one', () => {
    for (const m of valid) assert.equal(m.key, String(m.json.rsvp_id))
    let keyed = 0
    for (const m of invalid) {
      if (m.key === undefined) continue
      keyed++
      assert.ok(
        m.value.includes(`"rsvp_id":${m.key},`) || m.value.includes(`"rsvp_id":"${m.key}"`),
        `key ${m.key} for ${m.value.slice(0, 200)}`,
      )
    }
    assert.ok(keyed > 0 && keyed < invalid.length)
    for (const m of invalid) {
      if (!m.value.includes('"rsvp_id":')) assert.equal(m.key, undefined, m.value.slice(0, 200))
    }
  })

  test('each kind should be the change it claims to be', () => {
    const current = new Map<number, Json>()
    const last = new Map<number, string>()
    const withoutMtime = (o: Json) => JSON.stringify({ ...o, mtime: 0 })
    for (const { kind, value, json } of valid) {
      const id = json.rsvp_id as number
      const now = current.get(id)
      const mtime = json.mtime as number
      if (kind === 'new') {
        assert.equal(now, undefined, 'a new RSVP has not been seen before')
        current.set(id, json)
      } else {
        assert.ok(now !== undefined, `${kind} of an RSVP seen before`)
        const nowMtime = now.mtime as number
        if (kind === 'resend') {
          assert.equal(value, last.get(id))
        } else if (kind === 'truncated-resend') {
          assert.equal(mtime % 1000, 0)
          assert.equal(mtime, nowMtime - (nowMtime % 1000))
          assert.ok(mtime < nowMtime)
          assert.equal(withoutMtime(json), withoutMtime(now))
        } else if (kind === 'flip') {
          assert.ok(mtime > nowMtime)
          assert.notEqual(json.response, now.response)
          current.set(id, json)
        } else if (kind === 'update') {
          assert.ok(mtime > nowMtime)
          assert.equal(json.response, now.response)
          assert.notEqual(json.guests, now.guests)
          current.set(id, json)
        } else if (kind === 'move') {
          assert.ok(mtime > nowMtime)
          assert.notEqual(obj(json.event).event_id, obj(now.event).event_id)
          assert.equal(json.response, now.response)
          current.set(id, json)
        } else {
          assert.equal(kind, 'stale')
          assert.ok(mtime < nowMtime)
        }
      }
      last.set(id, value)
    }
  })

  test('mtimes should mostly increase, but not always, and some should be weeks old', () => {
    let decreases = 0
    let previous = 0
    let weeksOld = 0
    const days = new Set<string>()
    for (const { json } of valid) {
      const mtime = json.mtime as number
      if (mtime < previous) decreases++
      if (mtime < START - 7 * DAY) weeksOld++
      previous = mtime
      assert.ok(mtime > START - 30 * DAY && mtime < START + 8 * DAY, `${mtime}`)
      days.add(new Date(mtime).toISOString().slice(0, 10))
    }
    assert.ok(decreases > 100 && decreases < valid.length / 4, `${decreases} decreases`)
    assert.ok(weeksOld > 0)
    for (let d = 1; d <= 7; d++) assert.ok(days.has(`2026-01-0${d}`), `day ${d}`)
  })

  test('the same entity at the same mtime should always carry the same details', () => {
    const seen = new Map<string, string>()
    let repeats = 0
    function check(kind: string, id: unknown, mtime: number, details: unknown) {
      const key = `${kind}:${id}:${mtime}`
      const text = JSON.stringify(details)
      const before = seen.get(key)
      if (before === undefined) seen.set(key, text)
      else {
        repeats++
        assert.equal(text, before, key)
      }
    }
    // the detail sets of an event include which group and venue it names
    for (const { json } of valid) {
      const mtime = json.mtime as number
      const event = obj(json.event)
      const venue = json.venue === undefined ? undefined : obj(json.venue)
      check('event', event.event_id, mtime, { event, group: obj(json.group).group_id, venue: venue?.venue_id })
      check('group', obj(json.group).group_id, mtime, json.group)
      check('member', obj(json.member).member_id, mtime, json.member)
      if (venue !== undefined) check('venue', venue.venue_id, mtime, venue)
    }
    assert.ok(repeats > 1000, `${repeats} repeats checked`)
    const expected = computeExpected(stream.map((m) => m.value))
    assert.equal(expected.ambiguous.events.size + expected.ambiguous.groups.size + expected.ambiguous.venues.size, 0)
  })

  test('details should change over time: events renamed, events moving venue, groups renamed', () => {
    const names = new Map<string, Set<string>>()
    const venues = new Map<string, Set<unknown>>()
    const groupNames = new Map<unknown, Set<string>>()
    for (const { json } of valid) {
      const event = obj(json.event)
      const id = event.event_id as string
      if (!names.has(id)) names.set(id, new Set())
      names.get(id)?.add(event.event_name as string)
      if (json.venue !== undefined) {
        if (!venues.has(id)) venues.set(id, new Set())
        venues.get(id)?.add(obj(json.venue).venue_id)
      }
      const group = obj(json.group)
      if (!groupNames.has(group.group_id)) groupNames.set(group.group_id, new Set())
      groupNames.get(group.group_id)?.add(group.group_name as string)
    }
    const renamed = [...names.values()].filter((s) => s.size > 1).length
    assert.ok(renamed > 50, `${renamed} events renamed`)
    assert.ok([...venues.values()].filter((s) => s.size > 1).length > 10)
    assert.ok([...groupNames.values()].filter((s) => s.size > 1).length > 5)
  })

  test('should show the quirks of the real stream in plausible proportions', () => {
    const share = (f: (j: Json, value: string) => boolean) =>
      valid.filter((m) => f(m.json, m.value)).length / valid.length
    const noVenue = share((j) => j.venue === undefined)
    assert.ok(noVenue > 0.04 && noVenue < 0.3, `no venue ${noVenue}`)
    assert.ok(share((j) => j.venue !== undefined && obj(j.venue).venue_name === 'Online event') > 0)
    assert.ok(share((j) => j.venue !== undefined && obj(j.venue).lat === 0 && obj(j.venue).lon === 0) > 0)
    const noPhoto = share((j) => obj(j.member).photo === undefined)
    assert.ok(noPhoto > 0.01 && noPhoto < 0.15, `no photo ${noPhoto}`)
    const noTime = share((j) => obj(j.event).time === undefined)
    assert.ok(noTime > 0 && noTime < 0.03, `no time ${noTime}`)
    assert.ok(share((j) => 'other_services' in obj(j.member)) > 0.02)
    assert.ok(share((j) => Number.isInteger(obj(j.group).group_lon)) > 0)
    const eventIds = new Set(valid.map((m) => obj(m.json.event).event_id as string))
    const alpha = [...eventIds].filter((id) => /^[a-z]{12}$/.test(id)).length / eventIds.size
    assert.ok(alpha > 0.25 && alpha < 0.42, `alphanumeric ids ${alpha}`)
    assert.ok([...eventIds].every((id) => /^[a-z]{12}$/.test(id) || /^\d{9}$/.test(id)))
    assert.ok(new Set(valid.map((m) => obj(m.json.group).group_country)).size >= 10)
    const text = valid.map((m) => m.value).join('\n')
    assert.match(text, /[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]/, 'CJK')
    assert.match(text, /[\u0600-\u06ff]/, 'Arabic')
    assert.match(text, /[\u0590-\u05ff]/, 'Hebrew')
    assert.match(text, /[\u{1F300}-\u{1FAFF}]/u, 'emoji outside the BMP')
    assert.match(text, /\\"/, 'escaped quotes')
    assert.ok(share((_, v) => v.includes('\\n')) > 0, 'a newline in a name')
    assert.ok(share((j) => (obj(j.member).member_name as string).includes('  ')) > 0, 'double spaces')
    const longest = Math.max(...valid.map((m) => Buffer.byteLength(m.value)))
    assert.ok(longest > 1500 && longest < 4000, `longest ${longest}`)
  })
})
