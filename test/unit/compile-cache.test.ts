import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/rsvp-topk.js', import.meta.url))
const warm = fileURLToPath(new URL('../../scripts/warm-compile-cache.ts', import.meta.url))
// Loaded before the command, it reports at exit whether the process loaded Node's TypeScript
// transformer (amaro), which costs a process about 30 MB for its whole life.
const REPORT_TRANSFORMER =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("transformer loaded: "+process.moduleLoadList.some((m)=>m.includes("amaro"))+"\\n"))'

function runVersion(cacheDir: string) {
  return spawnSync(process.execPath, ['--import', REPORT_TRANSFORMER, bin, '--version'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: cacheDir },
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

  test('rsvp-topk should not load the TypeScript transformer once the cache is warmed', () => {
    const dir = freshDir()
    const cold = runVersion(dir)
    assert.equal(cold.status, 0, cold.stderr)
    assert.match(cold.stderr, /transformer loaded: true/, 'a cold cache strips the sources')

    const warmed = spawnSync(process.execPath, [warm], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: dir },
    })
    assert.equal(warmed.status, 0, warmed.stderr)
    assert.match(warmed.stdout, /^warm-compile-cache: \d+ modules in /)

    const hot = runVersion(dir)
    assert.equal(hot.status, 0, hot.stderr)
    assert.match(hot.stdout, /^\d+\.\d+\.\d+/)
    assert.match(hot.stderr, /transformer loaded: false/)
  })

  test('warming should fail with a message when the cache is turned off', () => {
    const result = spawnSync(process.execPath, [warm], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: freshDir(), NODE_DISABLE_COMPILE_CACHE: '1' },
    })
    assert.equal(result.status, 1)
    assert.match(result.stderr, /compile cache is off/)
  })
})
