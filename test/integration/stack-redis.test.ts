import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import { connectRedis, isReplyError } from '../../src/cache/redis-node.ts'
import { stackConfig, uniqueName } from '../helpers.ts'

/** Sends commands over a bare socket (no client library, no AUTH) and returns one reply line each. */
async function rawRedis(host: string, port: number, commands: string[][]): Promise<string[]> {
  const socket = connect({ host, port })
  socket.setEncoding('utf8')
  let buffer = ''
  socket.on('data', (chunk: string) => {
    buffer += chunk
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const replies: string[] = []
  for (const command of commands) {
    socket.write(`*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    const deadline = Date.now() + 2000
    while (!buffer.includes('\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const end = buffer.indexOf('\r\n')
    replies.push(end < 0 ? '' : buffer.slice(0, end))
    buffer = end < 0 ? '' : buffer.slice(end + 2)
  }
  socket.destroy()
  return replies
}

describe('local Redis ring', () => {
  test('the ring should have three nodes', () => {
    assert.equal(stackConfig().redis.ring.length, 3)
  })

  for (const [index] of [0, 1, 2].entries()) {
    test(`node ${index + 1} should let the ring user run the ring's commands on its own keys, and nothing else`, async (t) => {
      const node = stackConfig().redis.ring[index]
      assert.ok(node)
      const redis = await connectRedis(node)
      t.after(() => redis.quit())
      const key = `rsvp-topk:${uniqueName('stack')}:event:v2:e1`
      assert.equal(await redis.ping(), 'PONG')
      assert.equal(await redis.set(key, `value on ${node.id}`, 'EX', 60), 'OK')
      assert.deepEqual(await redis.mget(key), [`value on ${node.id}`])
      assert.equal((await redis.scan('0', 'MATCH', `${key.slice(0, -2)}*`, 'COUNT', 1000))[0].length > 0, true)
      assert.equal(await redis.unlink(key), 1)
      assert.equal(await redis.del(key), 0)
      const refused = async (what: string, command: () => Promise<unknown>) => {
        const error = await command().then(
          () => undefined,
          (e: unknown) => e,
        )
        assert.ok(isReplyError(error) && /NOPERM/.test(String(error)), `${what} is refused, got ${String(error)}`)
      }
      await refused('FLUSHALL', () => redis.flushall())
      await refused('FLUSHDB', () => redis.flushdb())
      await refused('CONFIG GET', () => redis.config('GET', 'maxmemory'))
      await refused('KEYS', () => redis.keys('*'))
      await refused('SHUTDOWN', () => redis.call('SHUTDOWN', 'NOSAVE'))
      await refused('a key outside rsvp-topk:', () => redis.set('other-service:key', 'x'))
      await refused('reading a key outside rsvp-topk:', () => redis.mget('other-service:key'))
      await refused('DEL outside rsvp-topk:', () => redis.del('other-service:key'))
    })

    test(`node ${index + 1} should refuse the default user and a wrong password`, async () => {
      const node = stackConfig().redis.ring[index]
      assert.ok(node)
      const replies = await rawRedis(node.host, node.port, [
        ['PING'],
        ['AUTH', 'default', 'anything'],
        ['AUTH', node.username ?? '', 'wrong-password'],
      ])
      assert.match(replies[0] ?? '', /^-NOAUTH/)
      assert.match(replies[1] ?? '', /^-WRONGPASS/)
      assert.match(replies[2] ?? '', /^-WRONGPASS/)
    })
  }
})
