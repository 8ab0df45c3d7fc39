import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))

function run(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
}

describe('rsvp-topk command', () => {
  test('--help should list every subcommand and the environment it reads', () => {
    const result = run('--help')
    assert.equal(result.status, 0)
    for (const command of ['serve', 'ingest', 'api', 'produce', 'migrate']) {
      assert.match(result.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`)
    }
    for (const variable of [
      'KAFKA_BROKERS',
      'KAFKA_TOPIC',
      'KAFKA_GROUP_ID',
      'DATABASE_URL',
      'REDIS_RING',
      'HTTP_PORT',
    ]) {
      assert.ok(result.stdout.includes(variable), `--help names ${variable}`)
    }
  })

  test('an unknown command should fail with a message and a non-zero status', () => {
    const result = run('frobnicate')
    assert.notEqual(result.status, 0)
    assert.match(result.stderr, /unknown command 'frobnicate'/)
  })
})
