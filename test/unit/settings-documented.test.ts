/**
 * The settings the service reads (src/config.ts), the README's configuration table and
 * `rsvp-topk --help` must name the same environment variables: a setting nobody can find is as
 * bad as a documented one that does nothing.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
// A secret may come from NAME_FILE instead of NAME: documented with NAME, not a setting of its own.
const settings = (names: Iterable<string>) => new Set([...names].filter((name) => !name.endsWith('_FILE')).sort())

function readByConfig(): Set<string> {
  const source = read('src/config.ts')
  const names = [
    ...source.matchAll(/(?:integer|flag|required|topicName|readSetting)\(env, '([A-Z][A-Z0-9_]+)'/g),
    ...source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g),
  ].map((match) => match[1] as string)
  return settings(names)
}

function inReadme(): Set<string> {
  const section = read('README.md').split('\n## Configuration')[1]?.split('\n## ')[0] ?? ''
  const rows = section.split('\n').filter((line) => line.startsWith('| `'))
  return settings(
    rows.flatMap((row) => [...(row.split(' | ')[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string)),
  )
}

function inHelp(): Set<string> {
  const bin = fileURLToPath(new URL('bin/rsvp-topk.js', root))
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }).stdout
  const environment = help.split('\nEnvironment')[1] ?? ''
  return settings([...environment.matchAll(/\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/g)].map((m) => m[1] as string))
}

test('config.ts, the README and --help should name the same settings', () => {
  const code = readByConfig()
  assert.ok(code.size >= 15, `found ${code.size} settings in src/config.ts`)
  assert.deepEqual(inReadme(), code, 'the README configuration table lists exactly the settings config.ts reads')
  assert.deepEqual(inHelp(), code, 'rsvp-topk --help lists exactly the settings config.ts reads')
})
