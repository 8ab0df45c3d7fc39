/**
 * `rsvp-topk produce` as a user runs it: a child process against the local Kafka, each test with
 * its own topics (left behind: the Kafka adapter offers no topic deletion), read back with a
 * consumer group of its own.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { type ConsumedMessage, createGroupConsumer } from '../../src/kafka/client.ts'
import { generateStream } from '../../src/producer/generator.ts'
import { stackConfig, uniqueName } from '../helpers.ts'

const BIN = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `rsvp-topk produce ARGS` with the stack's environment; `stdin` is written to it, then closed. */
function produce(args: string[], options: { stdin?: Buffer; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [BIN, 'produce', ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.stdin.end(options.stdin)
  const done = once(child, 'exit').then(
    ([code, signal]): Run => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr }),
  )
  return { child, done, stderr: () => stderr }
}

/**
 * Reads `topics` from the start until `count` messages arrived, then waits `settleMs` more for any
 * message too many; fails after `timeoutMs`.
 */
async function readTopics(
  t: TestContext,
  topics: string[],
  count: number,
  { settleMs = 1500, timeoutMs = 60_000 } = {},
): Promise<ConsumedMessage[]> {
  const consumer = await createGroupConsumer(stackConfig().kafka, { groupId: uniqueName('produce-it'), topics })
  t.after(() => consumer.close())
  const taken: ConsumedMessage[] = []
  const deadline = setTimeout(() => void consumer.close(), timeoutMs)
  let settle: NodeJS.Timeout | undefined
  try {
    for await (const message of consumer.messages) {
      taken.push(message)
      if (taken.length === count) settle = setTimeout(() => void consumer.close(), settleMs)
    }
  } finally {
    clearTimeout(deadline)
    clearTimeout(settle)
  }
  return taken
}

type Sent = { key: string | undefined; value: string }

const asSent = (m: ConsumedMessage): Sent => ({
  key: m.key?.toString('latin1'),
  value: m.value?.toString('latin1') ?? '',
})
const bytesSent = (key: string | undefined, value: Buffer): Sent => ({ key, value: value.toString('latin1') })

/**
 * Asserts that two lists hold the same messages, duplicates counted, in any order; a failure lists
 * a few missing and extra ones, shortened, instead of two thousand-line arrays.
 */
function assertSameMessages(got: Sent[], expected: Sent[], label: string): void {
  const id = (m: Sent) => `${m.key ?? '-'} ${m.value}`
  const counts = new Map<string, number>()
  for (const m of expected) counts.set(id(m), (counts.get(id(m)) ?? 0) + 1)
  const extra: string[] = []
  for (const m of got) {
    const n = counts.get(id(m)) ?? 0
    if (n === 0) extra.push(id(m))
    else counts.set(id(m), n - 1)
  }
  const missing = [...counts].flatMap(([key, n]) => Array<string>(n).fill(key))
  const short = (text: string) => `${text.slice(0, 100)}… (${text.length} chars)`
  assert.deepEqual(
    { got: got.length, missing: missing.slice(0, 3).map(short), extra: extra.slice(0, 3).map(short) },
    { got: expected.length, missing: [], extra: [] },
    label,
  )
}

/** The values of each key, in the order they were sent or received (one key stays on one partition). */
function byKey(messages: Sent[]): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const m of messages) {
    if (m.key === undefined) continue
    map.set(m.key, [...(map.get(m.key) ?? []), m.value])
  }
  return map
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'produce-it-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('rsvp-topk produce', () => {
  test('--file should send every non-blank line byte for byte, keyed by rsvp_id, from a file, a .gz and stdin', async (t) => {
    const dir = await tempDir(t)
    const truncated = '{"rsvp_id":1700000003,"mtime":1767225600003,"response":"ye'
    const notUtf8 = Buffer.concat([
      Buffer.from('{"rsvp_id":1700000004,"x":"'),
      Buffer.from([0xff, 0x00]),
      Buffer.from('"}'),
    ])
    const lines: { key: string | undefined; value: Buffer }[] = [
      { key: '1700000001', value: Buffer.from('{"rsvp_id":1700000001,"mtime":1767225600001,"response":"yes"}') },
      { key: '1700000002', value: Buffer.from('{"rsvp_id":1700000002,"member":{"member_name":"Zoë 🎉 東京"}}') },
      { key: '1700000003', value: Buffer.from(truncated) },
      { key: undefined, value: Buffer.from('<html>502 Bad Gateway</html>') },
      { key: '1700000004', value: notUtf8 },
      { key: '1700000001', value: Buffer.from('{"rsvp_id":1700000001,"mtime":1767225600009,"response":"no"}') },
    ]
    // blank lines and a CRLF ending, which are not sent
    const file = Buffer.concat([
      lines[0]?.value as Buffer,
      Buffer.from('\n\n'),
      ...lines.slice(1).flatMap((line, i) => [line.value, Buffer.from(i === 1 ? '\r\n' : '\n')]),
      Buffer.from('  \n'),
    ])
    await writeFile(join(dir, 'rsvps.jsonl'), file)
    await writeFile(join(dir, 'rsvps.jsonl.gz'), gzipSync(file))
    const topics = {
      plain: uniqueName('produce-file'),
      gz: uniqueName('produce-gz'),
      stdin: uniqueName('produce-stdin'),
    }

    const runs = await Promise.all([
      produce(['--file', join(dir, 'rsvps.jsonl'), '--topic', topics.plain]).done,
      produce(['--file', join(dir, 'rsvps.jsonl.gz'), '--topic', topics.gz]).done,
      produce(['--file', '-', '--topic', topics.stdin], { stdin: gzipSync(file) }).done,
    ])
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^produce: sent 6, failed 0, seconds [\d.]+, rate \d+ msg\/s, topic produce-\w+/m)
      assert.match(run.stdout, /blank lines skipped 2/)
    }

    const received = await readTopics(t, Object.values(topics), lines.length * 3)
    const expected = lines.map((line) => bytesSent(line.key, line.value))
    for (const topic of Object.values(topics)) {
      const got = received.filter((m) => m.topic === topic).map(asSent)
      assertSameMessages(got, expected, `messages of ${topic}`)
      assert.deepEqual(byKey(got), byKey(expected), `order per key on ${topic}`)
    }
  })

  test('--generate 500 --seed 7 should send exactly the generator stream for that seed, with only Kafka configured', async (t) => {
    const topic = uniqueName('produce-gen')
    // produce reaches only Kafka, so it must not ask for a database or a Redis ring
    const env = {
      DATABASE_URL: undefined,
      DATABASE_URL_FILE: undefined,
      REDIS_RING: undefined,
      REDIS_RING_FILE: undefined,
    }
    const run = await produce(['--generate', '500', '--seed', '7', '--topic', topic], { env }).done
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^produce: sent 500, failed 0, /m)

    const expected = [...generateStream({ count: 500, seed: 7 })].map((m) => bytesSent(m.key, Buffer.from(m.value)))
    const got = (await readTopics(t, [topic], 500)).map(asSent)
    assertSameMessages(got, expected, 'messages of the stream')
    assert.deepEqual(byKey(got), byKey(expected), 'every version of an RSVP in the order generated')
  })

  test('SIGINT should let the send under way finish, print the summary and exit 130', async (t) => {
    const topic = uniqueName('produce-sigint')
    const running = produce(['--generate', '100000', '--rate', '1000', '--seed', '3', '--topic', topic])
    // wait until it sends (the topic exists, the signal handlers are set), then a little longer
    for (let waited = 0; !running.stderr().includes('sending 100000 generated messages'); waited += 50) {
      assert.ok(waited < 30_000, `no start line: ${running.stderr()}`)
      await sleep(50)
    }
    await sleep(1000)
    running.child.kill('SIGINT')
    const run = await running.done
    assert.equal(run.code, 130, run.stderr)
    const sent = Number(/^produce \(stopped by SIGINT\): sent (\d+), failed 0/m.exec(run.stdout)?.[1])
    assert.ok(sent > 0 && sent < 100_000, `sent ${sent}`)

    // exactly what it counted arrived: the first `sent` messages of the stream (of 100,000: the
    // generator spreads its clock over the count)
    const expected: Sent[] = []
    for (const m of generateStream({ count: 100_000, seed: 3 })) {
      if (expected.length === sent) break
      expected.push(bytesSent(m.key, Buffer.from(m.value)))
    }
    const got = (await readTopics(t, [topic], sent)).map(asSent)
    assertSameMessages(got, expected, 'the first messages of the stream, as many as it counted')
  })

  test('bad flags should fail with a clear message and a non-zero status, before connecting', async () => {
    // a broker nobody listens on: the flags must be refused before it matters
    const env = { KAFKA_BROKERS: '127.0.0.1:1' }
    const cases: [string[], RegExp][] = [
      [[], /say what to send: --file PATH .* or --generate N/],
      [['--file', 'x.jsonl', '--generate', '5'], /--file and --generate exclude each other/],
      [['--generate', 'many'], /--generate must be an integer >= 1, not 'many'/],
      [['--generate', '5', '--rate', '0', '--topic', 'a/b'], /--topic must be .*; --rate must be a number/],
      [['--generate', '5', '--countries', '500'], /countries must be an integer from 1 to 40, not 500/],
      [['--generate', '5', '--start', 'yesterday'], /--start must be an ISO-8601 time/],
      [['--file', '-', '--events', '3'], /--events applies only to --generate/],
      [['--file', '-', '--seed', '1', '--span-days', '3'], /--seed, --span-days apply only to --generate/],
      [['--file', '/nonexistent/rsvps.jsonl'], /cannot read \/nonexistent\/rsvps\.jsonl: no such file/],
      [['--generate', '5', '--bogus'], /unknown option '--bogus'/],
    ]
    for (const [args, message] of cases) {
      const run = await produce(args, { env }).done
      assert.notEqual(run.code, 0, args.join(' '))
      assert.match(run.stderr, message, args.join(' '))
      assert.equal(run.stdout, '', `${args.join(' ')} prints no summary`)
    }
  })

  test('an unreachable Kafka should fail with the reason and status 1', async () => {
    const run = await produce(['--generate', '5'], { env: { KAFKA_BROKERS: '127.0.0.1:1' } }).done
    assert.equal(run.code, 1)
    assert.match(run.stderr, /produce: Kafka at 127\.0\.0\.1:1: .*ECONNREFUSED/)
  })
})
