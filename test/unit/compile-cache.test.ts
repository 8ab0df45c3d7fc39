import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))
const warm = fileURLToPath(new URL('../../scripts/warm-compile-cache.ts', import.meta.url))
// Loaded before the command (and again after bin re-executes itself: it stays in execArgv), it
// reports at exit whether the process loaded Node's TypeScript transformer (amaro), and the
// allocator setting it started with.
const REPORT =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("transformer loaded: "+process.moduleLoadList.some((m)=>m.includes("amaro"))+"; mmap threshold: "+process.env.MALLOC_MMAP_THRESHOLD_+"\\n"))'
const SPAWN_TIMEOUT_MS = 120_000

function run(args: readonly string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [...args], {
    encoding: 'utf8',
    timeout: SPAWN_TIMEOUT_MS,
    env: { PATH: process.env.PATH ?? '', ...env },
  })
}

describe('the compile cache', () => {
  const dirs: string[] = []
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsvp-topk-compile-cache-'))
    dirs.push(dir)
    return dir
  }
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  test('a process with nothing cached should load the TypeScript transformer', () => {
    const cold = run(['--import', REPORT, bin, '--version'], { NODE_COMPILE_CACHE: freshDir() })
    assert.equal(cold.status, 0, cold.stderr)
    assert.match(cold.stderr, /transformer loaded: true/)
  })

  test('after the warm script, the first rsvp-topk should find every module cached', () => {
    const dir = freshDir()
    const warmed = run([warm], { NODE_COMPILE_CACHE: dir })
    assert.equal(warmed.status, 0, warmed.stderr)
    assert.match(warmed.stdout, /^warm-compile-cache: \d+ modules in /)

    const first = run(['--import', REPORT, bin, '--version'], { NODE_COMPILE_CACHE: dir })
    assert.equal(first.status, 0, first.stderr)
    assert.match(first.stdout, /^\d+\.\d+\.\d+/)
    assert.match(first.stderr, /transformer loaded: false/)
  })

  test('rsvp-topk should turn the cache on by itself, also in the process it re-executes', () => {
    // No NODE_COMPILE_CACHE: bin's own directory in the install. The first run fills what is
    // missing; the second must strip nothing, after `ingest` re-executed with its flags and allocator setting.
    const once = run(['--import', REPORT, bin, 'ingest', '--help'], {})
    assert.equal(once.status, 0, once.stderr)
    const again = run(['--import', REPORT, bin, 'ingest', '--help'], {})
    assert.equal(again.status, 0, again.stderr)
    assert.match(again.stdout, /consume RSVPs from KAFKA_TOPIC/)
    assert.match(again.stderr, /transformer loaded: false; mmap threshold: 1048576/)
  })

  test('warming should fail with a message when the cache is turned off', () => {
    const result = run([warm], { NODE_COMPILE_CACHE: freshDir(), NODE_DISABLE_COMPILE_CACHE: '1' })
    assert.equal(result.status, 1)
    assert.match(result.stderr, /compile cache is off/)
  })
})
