/**
 * stack/redis-cluster.sh, on test ports: three masters that all say cluster_state:ok, formed once
 * (up again changes nothing), the service's settings printed, and least privilege on every master
 * as on the ring's nodes (stack-redis.test.ts), plus the two CLUSTER subcommands the client needs.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import { connectRedis, isReplyError } from '../../src/cache/redis-node.ts'
import { slotOf } from '../../src/cache/slots.ts'
import type { RedisNodeConfig } from '../../src/config.ts'
import { stackConfig, uniqueName } from '../helpers.ts'
import { backendForSuite, clusterBackend } from '../support/cache-backends.ts'
import { clusterStack, TEST_CLUSTER_PORTS } from '../support/redis-cluster.ts'

/** Sends commands over a bare socket (no client library, no AUTH first); the first line of each reply. */
async function rawReplies(port: number, commands: string[][]): Promise<string[]> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.setEncoding('utf8')
  let buffer = ''
  const lines: string[] = []
  let wake: () => void = () => {}
  socket.on('data', (chunk: string) => {
    buffer += chunk
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      lines.push(buffer.slice(0, end))
      buffer = buffer.slice(end + 2)
    }
    wake()
  })
  await once(socket, 'connect')
  try {
    for (const command of commands) {
      socket.write(`*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    }
    // Every reply here is one error line: wait for as many lines as commands.
    while (lines.length < commands.length) await new Promise<void>((resolve) => (wake = resolve))
    return lines
  } finally {
    socket.destroy()
  }
}

async function refusal(command: () => Promise<unknown>): Promise<unknown> {
  return command().then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('local Redis Cluster (stack/redis-cluster.sh)', () => {
  const cluster = backendForSuite(clusterBackend)

  test('up should be idempotent, and leave three masters that own every slot and say cluster_state:ok', async () => {
    const nodeIds = async () => {
      const ids: string[] = []
      for (const node of cluster().nodes) {
        const admin = await cluster().admin(node)
        ids.push(String(await admin.call('CLUSTER', 'MYID')))
        await admin.quit()
      }
      return ids
    }
    const before = await nodeIds()
    await clusterStack('redis_cluster_up')
    assert.deepEqual(await nodeIds(), before, 'the same nodes: the cluster was not formed again')
    for (const node of cluster().nodes) {
      const admin = await cluster().admin(node)
      const info = String(await admin.call('CLUSTER', 'INFO'))
      const nodes = String(await admin.call('CLUSTER', 'NODES'))
      await admin.quit()
      assert.match(info, /^cluster_state:ok\r?$/m, node.id)
      assert.match(info, /^cluster_slots_assigned:16384\r?$/m)
      assert.match(info, /^cluster_known_nodes:3\r?$/m)
      const masters = nodes.split('\n').filter((line) => / master /.test(line.replace('myself,', ' ')))
      assert.equal(masters.length, 3, nodes)
      assert.ok(!/ slave /.test(nodes), 'no replicas')
    }
    const status = await clusterStack('redis_cluster_status')
    for (const port of TEST_CLUSTER_PORTS) assert.match(status, new RegExp(`redis-${port} +up .*cluster_state:ok`))
  })

  test('redis_cluster_env should print the three masters with the service user, and unset the ring', async () => {
    const printed = await clusterStack('redis_cluster_env')
    assert.match(printed, /^unset REDIS_RING REDIS_RING_FILE$/m)
    const url = /^export REDIS_CLUSTER='([^']+)'$/m.exec(printed)?.[1] ?? ''
    const seeds = stackConfig({ REDIS_RING: '', REDIS_CLUSTER: url }).redis.cluster
    assert.deepEqual(
      seeds.map((node) => [node.id, node.username]),
      TEST_CLUSTER_PORTS.map((port) => [`127.0.0.1:${port}`, 'rsvp_topk']),
    )
  })

  test("the slot of a key should be the cluster's own (CLUSTER KEYSLOT)", async () => {
    const admin = await cluster().admin(cluster().nodes[0] as RedisNodeConfig)
    try {
      for (const key of [
        'rsvp-topk:127.0.0.1:25432/rsvp_topk:event:v2:1',
        'a',
        '{tag}x',
        `rsvp-topk:${uniqueName('k')}`,
      ]) {
        assert.equal(slotOf(key), Number(await admin.call('CLUSTER', 'KEYSLOT', key)), key)
      }
    } finally {
      await admin.quit()
    }
  })

  for (const index of [0, 1, 2]) {
    test(`master ${index + 1} should let the service's user run the cache's commands on its own keys, and nothing else`, async (t) => {
      const node = cluster().nodes[index] as RedisNodeConfig
      const redis = await connectRedis(node)
      t.after(() => redis.quit())
      const base = `rsvp-topk:${uniqueName('stack')}:event:v2:`
      const key = Array.from({ length: 500 }, (_, i) => `${base}${i}`).find((k) => cluster().ownerOf(k) === node.id)
      assert.ok(key)
      assert.equal(await redis.ping(), 'PONG')
      assert.equal(await redis.set(key, `value on ${node.id}`, 'EX', 60), 'OK')
      assert.deepEqual(await redis.mget(key), [`value on ${node.id}`])
      assert.ok((await redis.scan('0', 'MATCH', `${base}*`, 'COUNT', 1000))[1].includes(key))
      assert.equal(await redis.unlink(key), 1)
      assert.equal(await redis.del(key), 0)
      assert.ok(Array.isArray(await redis.call('CLUSTER', 'SLOTS')), 'CLUSTER SLOTS: the slot map')
      assert.match(String(await redis.call('CLUSTER', 'INFO')), /cluster_state:ok/)
      for (const [what, command] of [
        ['FLUSHALL', () => redis.flushall()],
        ['CONFIG GET', () => redis.config('GET', 'maxmemory')],
        ['KEYS', () => redis.keys('*')],
        ['SHUTDOWN', () => redis.call('SHUTDOWN', 'NOSAVE')],
        ['CLUSTER NODES', () => redis.call('CLUSTER', 'NODES')],
        ['CLUSTER RESET', () => redis.call('CLUSTER', 'RESET')],
        ['CLUSTER FORGET', () => redis.call('CLUSTER', 'FORGET', 'x')],
        ['a key outside rsvp-topk:', () => redis.set('other-service:key', 'x')],
      ] as const) {
        const error = await refusal(command)
        assert.ok(isReplyError(error) && /NOPERM/.test(String(error)), `${what} is refused, got ${String(error)}`)
      }
    })
  }

  test('every master should refuse a client that has not logged in, the default user and a wrong password', async () => {
    for (const node of cluster().nodes) {
      const replies = await rawReplies(node.port, [
        ['GET', 'rsvp-topk:x'],
        ['AUTH', 'default', 'anything'],
        ['AUTH', node.username ?? '', 'wrong-password'],
      ])
      assert.match(replies[0] ?? '', /^-NOAUTH/, node.id)
      assert.match(replies[1] ?? '', /^-WRONGPASS/, node.id)
      assert.match(replies[2] ?? '', /^-WRONGPASS/, node.id)
    }
  })
})
