import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import { connectRedis } from '../../src/cache/redis-node.ts'
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
    test(`node ${index + 1} should accept AUTH with the ring user, then SET and GET`, async (t) => {
      const node = stackConfig().redis.ring[index]
      assert.ok(node)
      const redis = await connectRedis(node)
      t.after(() => redis.quit())
      assert.equal(await redis.call('ACL', 'WHOAMI'), node.username)
      const key = uniqueName('stack-key')
      assert.equal(await redis.set(key, `value on ${node.id}`, 'EX', 60), 'OK')
      assert.equal(await redis.get(key), `value on ${node.id}`)
      await redis.del(key)
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
