import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { LazyChildLogger } from '../../../src/api/request-logger.ts'

/** A warn-level pino logger writing JSON lines into `lines`, counting the children it builds. */
function parentLogger() {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  const parent = pino({ level: 'warn', base: { component: 'http' } }, destination)
  let children = 0
  const child = parent.child
  // Children inherit this method: `this` is whichever logger is asked for a child.
  parent.child = function (this: typeof parent, bindings, options) {
    children++
    return child.call(this, bindings, options)
  } as typeof parent.child
  return { parent, lines, children: () => children }
}

describe('LazyChildLogger', () => {
  test('should build no child for lines below the level, and bind the id to the lines it writes', () => {
    const { parent, lines, children } = parentLogger()
    const log = new LazyChildLogger(parent, { reqId: 'req-1' })
    log.info('incoming request')
    log.debug({ a: 1 }, 'detail')
    log.trace('trace')
    assert.equal(children(), 0)
    assert.deepEqual(lines, [])

    log.warn({ reason: 'slow' }, 'ending the stream')
    log.error('failed %s', 'here')
    assert.equal(children(), 1, 'one child, built once')
    assert.deepEqual(
      lines.map(({ level, msg, reqId, component, reason }) => ({ level, msg, reqId, component, reason })),
      [
        { level: 40, msg: 'ending the stream', reqId: 'req-1', component: 'http', reason: 'slow' },
        { level: 50, msg: 'failed here', reqId: 'req-1', component: 'http', reason: undefined },
      ],
    )
  })

  test("should honour a level of the child's own options (a route's logLevel)", () => {
    const { parent, lines, children } = parentLogger()
    const log = new LazyChildLogger(parent, { reqId: 'req-2' }, { level: 'info' })
    assert.equal(children(), 1)
    assert.equal(log.level, 'info')
    log.info('incoming request')
    assert.deepEqual(
      lines.map(({ msg, reqId }) => ({ msg, reqId })),
      [{ msg: 'incoming request', reqId: 'req-2' }],
    )
  })

  test('should give children and level changes the bound id', () => {
    const { parent, lines } = parentLogger()
    const log = new LazyChildLogger(parent, { reqId: 'req-3' })
    assert.equal(log.level, 'warn')
    log.child({ plugin: 'sse' }).warn('from a plugin')
    log.level = 'debug'
    log.debug('now written')
    assert.equal(parent.level, 'warn', "the parent's level is not changed")
    assert.deepEqual(
      lines.map(({ msg, reqId, plugin }) => ({ msg, reqId, plugin })),
      [
        { msg: 'from a plugin', reqId: 'req-3', plugin: 'sse' },
        { msg: 'now written', reqId: 'req-3', plugin: undefined },
      ],
    )
  })
})
