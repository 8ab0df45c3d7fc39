import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { isAppError } from '../../../src/errors.ts'
import { type KeyedLine, keyOf, openLineSource, splitLines } from '../../../src/producer/file-lines.ts'

const VALID = '{"rsvp_id":1700000001,"mtime":1767225600001,"response":"yes","event":{"event_id":"abc"}}'
// a valid RSVP whose text is not ASCII: an emoji (4 bytes), CJK, a combining accent, an escaped quote
const UNICODE = '{"rsvp_id":1700000002,"member":{"member_name":"Zoë 🎉 東京 e\u0301 \\"q\\""},"response":"no"}'
const TRUNCATED = '{"venue":{"venue_name":"x"},"rsvp_id":1700000003,"mtime":17672'
const STRING_ID = '{"rsvp_id":"1700000004","response":"yes"}'
const ARRAY = `[${VALID}]`
const GARBAGE = '<html><body><h1>502 Bad Gateway</h1></body></html>'

/** A fixture file's bytes: lines in several forms, with blank lines, CRLF and bytes that are not UTF-8. */
function fixture(): { bytes: Buffer; expected: { key: string | undefined; value: Buffer }[] } {
  const notUtf8 = Buffer.concat([
    Buffer.from('{"rsvp_id":1700000005,"name":"'),
    Buffer.from([0xff, 0xfe, 0x00]),
    Buffer.from('"}'),
  ])
  const innerCr = Buffer.from('{"rsvp_id":1700000006,"name":"a\rb"}')
  const bytes = Buffer.concat([
    Buffer.from(`${VALID}\n`),
    Buffer.from('\n'),
    Buffer.from(`${UNICODE}\r\n`),
    Buffer.from('   \t \n'),
    Buffer.from(`${TRUNCATED}\n`),
    Buffer.from('\r\n'),
    notUtf8,
    Buffer.from('\n'),
    Buffer.from(`${STRING_ID}\n`),
    innerCr,
    Buffer.from('\r\n'),
    Buffer.from(`${ARRAY}\n`),
    // the last line has no terminator
    Buffer.from(GARBAGE),
  ])
  const expected = [
    { key: '1700000001', value: Buffer.from(VALID) },
    { key: '1700000002', value: Buffer.from(UNICODE) },
    { key: '1700000003', value: Buffer.from(TRUNCATED) },
    { key: '1700000005', value: notUtf8 },
    { key: '1700000004', value: Buffer.from(STRING_ID) },
    { key: '1700000006', value: innerCr },
    { key: undefined, value: Buffer.from(ARRAY) },
    { key: undefined, value: Buffer.from(GARBAGE) },
  ]
  return { bytes, expected }
}

async function collect(lines: AsyncIterable<KeyedLine>) {
  const out: { key: string | undefined; value: Buffer }[] = []
  for await (const line of lines) out.push({ key: line.key?.toString(), value: Buffer.from(line.value) })
  return out
}

/** Every line of a split, as text. */
async function texts(lines: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = []
  for await (const line of lines) out.push(line.toString())
  return out
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'file-lines-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('keyOf', () => {
  test('should key a JSON object by its top-level rsvp_id, number or string', () => {
    assert.equal(keyOf(Buffer.from(VALID))?.toString(), '1700000001')
    assert.equal(keyOf(Buffer.from(STRING_ID))?.toString(), '1700000004')
    assert.equal(keyOf(Buffer.from('{"rsvp_id":  42 }'))?.toString(), '42')
  })

  test('should keep the digits of an rsvp_id too big for a double', () => {
    assert.equal(keyOf(Buffer.from('{"rsvp_id":12345678901234567890}'))?.toString(), '12345678901234567890')
  })

  test('should key a line that is not JSON by the rsvp_id it shows', () => {
    assert.equal(keyOf(Buffer.from(TRUNCATED))?.toString(), '1700000003')
    assert.equal(keyOf(Buffer.from('{"rsvp_id": "77", "x": '))?.toString(), '77')
  })

  test('should give no key when there is no top-level rsvp_id', () => {
    for (const line of [GARBAGE, ARRAY, 'null', '42', '{"rsvp_id":null}', '{"rsvp_id":""}', '{"event":{"id":1}}', '']) {
      assert.equal(keyOf(Buffer.from(line)), undefined, line)
    }
  })
})

describe('splitLines', () => {
  test('should split on \\n, drop a \\r before it, and keep a last line without a terminator', async () => {
    const lines = await texts(splitLines(Readable.from([Buffer.from('a\r\nb\n\nc\rd\ne')])))
    assert.deepEqual(lines, ['a', 'b', '', 'c\rd', 'e'])
  })

  test('should join lines split across chunks, a CRLF and a multi-byte character included', async () => {
    const text = Buffer.from('ab€c\r\nde\n')
    // every split point, including inside '€' (3 bytes) and between \r and \n
    for (let cut = 1; cut < text.length; cut++) {
      const lines = await texts(splitLines(Readable.from([text.subarray(0, cut), text.subarray(cut)])))
      assert.deepEqual(lines, ['ab€c', 'de'], `cut at ${cut}`)
    }
  })

  test('should drop a UTF-8 byte order mark at the start only', async () => {
    const bom = '\uFEFF'
    const lines = await texts(splitLines(Readable.from([Buffer.from(`${bom}a\n${bom}b\n`)])))
    assert.deepEqual(lines, ['a', `${bom}b`])
  })

  test('should fail on a line longer than the limit, even without a newline in sight', async () => {
    const chunks = Readable.from([Buffer.alloc(60, 'x'), Buffer.alloc(60, 'y')])
    await assert.rejects(texts(splitLines(chunks, 100, 'big.jsonl')), (error: unknown) => {
      assert.ok(isAppError(error, 'RSVP_USAGE'))
      assert.match(error.message, /big\.jsonl: line 1 is longer than 100 bytes/)
      return true
    })
  })
})

describe('openLineSource', () => {
  test('should read a file byte for byte: keys, malformed lines, unicode, CRLF; blank lines skipped', async (t) => {
    const dir = await tempDir(t)
    const { bytes, expected } = fixture()
    const path = join(dir, 'rsvps.jsonl')
    await writeFile(path, bytes)
    // small reads, so lines straddle chunks
    const source = await openLineSource(path, { chunkBytes: 16 })
    assert.equal(source.totalBytes, bytes.length)
    assert.deepEqual(await collect(source.lines), expected)
    assert.equal(source.blankLines(), 3)
    assert.equal(source.bytesRead(), bytes.length)
  })

  test('should gunzip a .gz file, and a gzip file by its magic bytes whatever its name', async (t) => {
    const dir = await tempDir(t)
    const { bytes, expected } = fixture()
    const gz = gzipSync(bytes)
    await writeFile(join(dir, 'rsvps.jsonl.gz'), gz)
    await writeFile(join(dir, 'rsvps.data'), gz)
    for (const name of ['rsvps.jsonl.gz', 'rsvps.data']) {
      const source = await openLineSource(join(dir, name))
      assert.deepEqual(await collect(source.lines), expected, name)
      assert.equal(source.totalBytes, gz.length)
      assert.equal(source.bytesRead(), gz.length)
    }
  })

  test('should read concatenated gzip members as one stream', async (t) => {
    const dir = await tempDir(t)
    const path = join(dir, 'two.gz')
    await writeFile(path, Buffer.concat([gzipSync(`${VALID}\n`), gzipSync(`${STRING_ID}\n`)]))
    const lines = await collect((await openLineSource(path)).lines)
    assert.deepEqual(
      lines.map((l) => l.key),
      ['1700000001', '1700000004'],
    )
  })

  test('should read - from stdin, plain or gzip, even when it arrives a byte at a time', async () => {
    const { bytes, expected } = fixture()
    for (const data of [bytes, gzipSync(bytes)]) {
      const stdin = Readable.from([...data].map((byte) => Buffer.from([byte])))
      const source = await openLineSource('-', { stdin })
      assert.equal(source.totalBytes, undefined)
      assert.deepEqual(await collect(source.lines), expected)
    }
  })

  test('should fail clearly on a .gz file that is not gzip', async (t) => {
    const dir = await tempDir(t)
    const path = join(dir, 'plain.jsonl.gz')
    await writeFile(path, `${VALID}\n`)
    const source = await openLineSource(path)
    await assert.rejects(collect(source.lines), (error: unknown) => {
      assert.ok(isAppError(error, 'RSVP_USAGE'))
      assert.match(error.message, /plain\.jsonl\.gz is not valid gzip/)
      return true
    })
  })

  test('should fail before reading when the file is missing or a directory', async (t) => {
    const dir = await tempDir(t)
    await assert.rejects(openLineSource(join(dir, 'missing.jsonl')), /cannot read .*missing\.jsonl: no such file/)
    await assert.rejects(openLineSource(dir), /not a file/)
  })

  test('close should end an iteration that waits on a quiet stdin', async () => {
    const stdin = new PassThrough()
    stdin.write(`${VALID}\n`)
    const source = await openLineSource('-', { stdin })
    const seen: KeyedLine[] = []
    const done = (async () => {
      for await (const line of source.lines) {
        seen.push(line)
        setImmediate(() => source.close())
      }
    })()
    await done
    assert.equal(seen.length, 1)
  })
})
