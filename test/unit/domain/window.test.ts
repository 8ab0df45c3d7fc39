import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { planWindow, type WindowPlan } from '../../../src/domain/window.ts'
import { createRandom } from '../../../src/producer/random.ts'

const HOUR = 3_600_000
const DAY = 86_400_000
const at = (iso: string) => Date.parse(iso)

/** Which part of the plan covers an instant: 'day', 'hour', 'edge', or undefined; throws on overlap. */
function coverOf(plan: WindowPlan, ms: number): string | undefined {
  const covers: string[] = []
  const dayNumber = Math.floor(ms / DAY)
  if (dayNumber >= plan.days.from && dayNumber < plan.days.to) covers.push('day')
  for (const range of plan.hours) if (ms >= range.from && ms < range.to) covers.push('hour')
  for (const range of plan.edges) if (ms >= range.from && ms < range.to) covers.push('edge')
  assert.ok(covers.length <= 1, `instant ${ms} is covered ${covers.length} times`)
  return covers[0]
}

describe('planWindow', () => {
  test('should use whole days, whole hours, then raw edges', () => {
    const plan = planWindow(at('2021-03-01T10:30:00Z'), at('2021-03-04T02:15:00Z'))
    assert.deepEqual(plan, {
      days: { from: at('2021-03-02T00:00:00Z') / DAY, to: at('2021-03-04T00:00:00Z') / DAY },
      hours: [
        { from: at('2021-03-01T11:00:00Z'), to: at('2021-03-02T00:00:00Z') },
        { from: at('2021-03-04T00:00:00Z'), to: at('2021-03-04T02:00:00Z') },
      ],
      edges: [
        { from: at('2021-03-01T10:30:00Z'), to: at('2021-03-01T11:00:00Z') },
        { from: at('2021-03-04T02:00:00Z'), to: at('2021-03-04T02:15:00Z') },
      ],
    })
  })

  test('should read no RSVPs for a window on whole days', () => {
    const plan = planWindow(at('2021-03-01T00:00:00Z'), at('2021-03-03T00:00:00Z'))
    assert.deepEqual(plan.hours, [])
    assert.deepEqual(plan.edges, [])
    assert.equal(plan.days.to - plan.days.from, 2)
  })

  test('should keep a window inside one hour as a single edge', () => {
    const plan = planWindow(at('2021-03-01T10:10:00Z'), at('2021-03-01T10:20:00Z'))
    assert.deepEqual(plan, {
      days: { from: 0, to: 0 },
      hours: [],
      edges: [{ from: at('2021-03-01T10:10:00Z'), to: at('2021-03-01T10:20:00Z') }],
    })
  })

  test('should split a window across midnight shorter than a day into hours and edges only', () => {
    const plan = planWindow(at('2021-03-01T22:30:00Z'), at('2021-03-02T01:00:00.001Z'))
    assert.equal(plan.days.from >= plan.days.to, true)
    assert.deepEqual(plan.hours, [{ from: at('2021-03-01T23:00:00Z'), to: at('2021-03-02T01:00:00Z') }])
    assert.deepEqual(plan.edges, [
      { from: at('2021-03-01T22:30:00Z'), to: at('2021-03-01T23:00:00Z') },
      { from: at('2021-03-02T01:00:00Z'), to: at('2021-03-02T01:00:00.001Z') },
    ])
  })

  test('should handle instants before 1970 and the widest window the API accepts', () => {
    const plan = planWindow(Date.parse('0000-01-01T00:00:00Z'), Date.parse('9999-12-31T23:59:59.999Z') + 1)
    assert.deepEqual(plan.edges, [])
    assert.deepEqual(plan.hours, [])
    assert.ok(plan.days.from < 0)
  })

  test('should cover every instant of random windows exactly once and nothing outside them', () => {
    const rng = createRandom(20211124)
    const random = () => rng.next()
    for (let trial = 0; trial < 300; trial++) {
      const base = at('2021-03-01T00:00:00Z') + Math.floor(random() * 10 * DAY) - 5 * DAY
      const from = base + Math.floor(random() * 3 * HOUR)
      const to = from + 1 + Math.floor(random() * (random() < 0.5 ? 2 * HOUR : 4 * DAY))
      const plan = planWindow(from, to)
      assert.ok(plan.edges.length <= 2, 'at most two edges')
      const edgeMs = plan.edges.reduce((sum, range) => sum + range.to - range.from, 0)
      assert.ok(edgeMs < 2 * HOUR, 'edges add up to less than two hours')
      for (const range of plan.hours) assert.equal(range.from % HOUR, 0)
      const probes = [
        from,
        to - 1,
        from - 1,
        to,
        ...Array.from({ length: 40 }, () => from + Math.floor(random() * (to - from))),
      ]
      for (const edge of [...plan.edges, ...plan.hours]) probes.push(edge.from, edge.to - 1, edge.to)
      for (const ms of probes) {
        const inside = ms >= from && ms < to
        assert.equal(coverOf(plan, ms) !== undefined, inside, `instant ${ms} of [${from}, ${to})`)
      }
    }
  })

  test('should refuse instants that are not integers', () => {
    assert.throws(() => planWindow(1.5, 10), RangeError)
    assert.throws(() => planWindow(0, Number.NaN), RangeError)
  })
})
