/**
 * Text from the network, decoded strictly: percent-escapes must be well formed, the bytes must
 * be UTF-8, and the text must hold no NUL (PostgreSQL's text cannot hold it) and no unpaired
 * surrogate (it cannot be compared with stored text). Pure; the query string parser of the HTTP
 * server and the route handlers both use it, so no request parameter reaches SQL unless
 * PostgreSQL can hold and compare it.
 */

export interface ParameterError {
  readonly parameter: string
  readonly message: string
}

/** A query string as the routes see it: each parameter's value, or its values when repeated. */
export type RawQuery = Readonly<Record<string, string | readonly string[] | undefined>>

/** The longest parameter name or value accepted, in UTF-16 units (URLs are 4 KB at most anyway). */
export const MAX_PARAMETER_LENGTH = 1024

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decodes one percent-encoded URL component into text, or says what is wrong with it. In a
 * query string `+` stands for a space (`plusIsSpace`). Characters above U+00FF, which only a
 * caller that did not percent-encode sends, are taken as their UTF-8 bytes.
 */
export function decodeComponent(raw: string, plusIsSpace: boolean): { text: string } | { problem: string } {
  // Almost every parameter (k=10, country=us) is plain ASCII: it decodes to itself, and building
  // its bytes and running them through the UTF-8 decoder was 6% of a cached top-k request's CPU.
  if (isPlainAscii(raw, plusIsSpace)) {
    const problem = textProblem(raw)
    return problem === undefined ? { text: raw } : { problem }
  }
  const bytes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code === 0x25 /* % */) {
      const hex = raw.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { problem: 'has a malformed percent-escape' }
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else if (code === 0x2b /* + */ && plusIsSpace) {
      bytes.push(0x20)
    } else if (code <= 0xff) {
      // Node hands over a URL's raw bytes one per character.
      bytes.push(code)
    } else {
      for (const byte of Buffer.from(raw.slice(i, i + 1 + (code >= 0xd800 && code <= 0xdbff ? 1 : 0)))) bytes.push(byte)
      if (code >= 0xd800 && code <= 0xdbff) i++
    }
  }
  let text: string
  try {
    text = utf8.decode(Uint8Array.from(bytes))
  } catch {
    return { problem: 'is not valid UTF-8 once percent-decoded' }
  }
  const problem = textProblem(text)
  return problem === undefined ? { text } : { problem }
}

/** Whether `raw` holds only ASCII characters other than `%` (and `+` when it means a space). */
function isPlainAscii(raw: string, plusIsSpace: boolean): boolean {
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code >= 0x80 || code === 0x25 /* % */ || (code === 0x2b /* + */ && plusIsSpace)) return false
  }
  return true
}

/** What makes a text unusable as a parameter, or undefined when it is fine. */
export function textProblem(text: string, maxLength = MAX_PARAMETER_LENGTH): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (%00)'
  if (!text.isWellFormed()) return 'must not contain unpaired surrogates'
  if (text.length > maxLength) return `must be at most ${maxLength} characters`
  return undefined
}

/** A query string parsed strictly: the values, or the first problem found (and no values). */
export type ParsedQuery = { readonly query: RawQuery } | { readonly error: ParameterError }

/**
 * Parses a query string (without the `?`) into parameters, strictly (see decodeComponent). The
 * result has no prototype, so a parameter named `__proto__` or `constructor` is just a name.
 */
export function parseQueryString(raw: string): ParsedQuery {
  const query: Record<string, string | string[]> = Object.create(null)
  if (raw === '') return { query }
  for (const pair of raw.split('&')) {
    if (pair === '') continue
    const equals = pair.indexOf('=')
    const rawName = equals === -1 ? pair : pair.slice(0, equals)
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1)
    const name = decodeComponent(rawName, true)
    if ('problem' in name)
      return { error: { parameter: shorten(rawName), message: `a parameter name ${name.problem}` } }
    const value = decodeComponent(rawValue, true)
    if ('problem' in value)
      return { error: { parameter: shorten(name.text), message: `${shorten(name.text)} ${value.problem}` } }
    const seen = query[name.text]
    if (seen === undefined) query[name.text] = value.text
    else if (typeof seen === 'string') query[name.text] = [seen, value.text]
    else seen.push(value.text)
  }
  return { query }
}

/** A parameter name fit to quote in an error message. */
export function shorten(name: string): string {
  return name.length > 40 ? `${name.slice(0, 40)}…` : name
}
