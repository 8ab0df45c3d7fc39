import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeComponent, MAX_PARAMETER_LENGTH, parseQueryString, textProblem } from '../../../src/api/request-text.ts'

describe('decodeComponent', () => {
  test('should decode percent-escapes of UTF-8 and + as a space in a query string', () => {
    assert.deepEqual(decodeComponent('New+York', true), { text: 'New York' })
    assert.deepEqual(decodeComponent('New+York', false), { text: 'New+York' })
    assert.deepEqual(decodeComponent('S%C3%A3o%20Paulo', true), { text: 'São Paulo' })
    assert.deepEqual(decodeComponent('%F0%9F%8E%B2', true), { text: '🎲' })
  })

  test('should give plain ASCII back as it is, with the same checks as decoded text', () => {
    for (const plusIsSpace of [true, false]) {
      for (let code = 1; code < 0x80; code++) {
        const char = String.fromCharCode(code)
        const raw = `a${char}b`
        const want = char === '%' ? undefined : char === '+' && plusIsSpace ? 'a b' : raw
        const got = decodeComponent(raw, plusIsSpace)
        if (want === undefined) assert.ok('problem' in got, `${JSON.stringify(raw)} refused`)
        else assert.deepEqual(got, { text: want }, JSON.stringify(raw))
        // The same character percent-escaped takes the decoding path and must agree.
        const escaped = `a%${code.toString(16).padStart(2, '0')}b`
        assert.deepEqual(decodeComponent(escaped, plusIsSpace), { text: `a${char}b` }, escaped)
      }
    }
    assert.deepEqual(decodeComponent('', true), { text: '' })
    assert.match((decodeComponent('a\u0000b', true) as { problem: string }).problem, /NUL/)
    assert.match(
      (decodeComponent('x'.repeat(MAX_PARAMETER_LENGTH + 1), true) as { problem: string }).problem,
      /at most/,
    )
  })

  test('should take raw bytes as Node hands them over (one per character)', () => {
    assert.deepEqual(decodeComponent('S\u00c3\u00a3o', true), { text: 'São' })
  })

  for (const [name, raw, problem] of [
    ['NUL', '%00', /NUL/],
    ['NUL inside text', 'a%00b', /NUL/],
    ['a lone byte above 0x7F', '%FF', /not valid UTF-8/],
    ['an overlong slash', '%C0%AF', /not valid UTF-8/],
    ['a surrogate in CESU-8', '%ED%A0%80', /not valid UTF-8/],
    ['a truncated sequence', '%E4%B8', /not valid UTF-8/],
    ['a malformed escape', '%zz', /malformed percent-escape/],
    ['a trailing %', 'abc%', /malformed percent-escape/],
    ['a one-digit escape', '%4', /malformed percent-escape/],
  ] as const) {
    test(`should refuse ${name}`, () => {
      const result = decodeComponent(raw, true)
      assert.ok('problem' in result, `${raw} refused`)
      assert.match(result.problem, problem)
    })
  }
})

describe('textProblem', () => {
  test('should refuse NUL, unpaired surrogates and over-long text, and take the rest', () => {
    assert.match(textProblem('a\u0000') ?? '', /NUL/)
    assert.match(textProblem('\ud800x') ?? '', /unpaired surrogates/)
    assert.match(textProblem('x'.repeat(MAX_PARAMETER_LENGTH + 1)) ?? '', /at most/)
    assert.equal(textProblem('x'.repeat(MAX_PARAMETER_LENGTH)), undefined)
    assert.equal(textProblem('東京 🎲'), undefined)
  })
})

describe('parseQueryString', () => {
  test('should collect repeated parameters and keep empty values', () => {
    const parsed = parseQueryString('k=5&city=a&city=b&empty=&flag')
    assert.ok('query' in parsed)
    assert.deepEqual({ ...parsed.query }, { k: '5', city: ['a', 'b'], empty: '', flag: '' })
  })

  test('should take __proto__ and constructor as plain names', () => {
    const parsed = parseQueryString('__proto__=x&constructor=y')
    assert.ok('query' in parsed)
    assert.equal(Object.getPrototypeOf(parsed.query), null)
    assert.deepEqual(Object.keys(parsed.query), ['__proto__', 'constructor'])
  })

  test('should name the parameter whose value cannot be decoded', () => {
    assert.deepEqual(parseQueryString('k=5&city=%00'), {
      error: { parameter: 'city', message: 'city must not contain NUL (%00)' },
    })
    const bad = parseQueryString('topic=%FF')
    assert.ok('error' in bad && bad.error.parameter === 'topic')
  })

  test('should refuse a parameter name that cannot be decoded', () => {
    const parsed = parseQueryString('%FF=1')
    assert.ok('error' in parsed)
    assert.match(parsed.error.message, /a parameter name is not valid UTF-8/)
  })
})
