import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ALLOCATOR_ENV, allocatorEnvToAdd, HEAP_FLAGS, heapFlagsToAdd } from '../../src/heap-flags.ts'

describe('heapFlagsToAdd', () => {
  test("should give the command's flags when the operator set no heap flag", () => {
    assert.deepEqual(heapFlagsToAdd('api', [], undefined), HEAP_FLAGS.api)
    assert.deepEqual(heapFlagsToAdd('serve', ['--cpu-prof'], '--enable-source-maps'), HEAP_FLAGS.serve)
    assert.deepEqual(heapFlagsToAdd('ingest', [], ''), ['--max-semi-space-size=16'])
  })

  test('should give none to a command that runs with Node defaults', () => {
    for (const command of ['migrate', 'produce', '--help', undefined]) {
      assert.deepEqual(heapFlagsToAdd(command, [], undefined), [], String(command))
    }
  })

  test("should give none when node's arguments or NODE_OPTIONS already size the heap", () => {
    for (const [execArgv, nodeOptions] of [
      [['--max-semi-space-size=32'], undefined],
      [['--max_old_space_size=256'], undefined],
      [['--heap-growing-percent=50'], undefined],
      [[], '--max-semi-space-size=0'],
      [[], '--enable-source-maps  --max-old-space-size=400'],
      [['--max-heap-size', '300'], undefined],
    ] as const) {
      assert.deepEqual(heapFlagsToAdd('api', execArgv, nodeOptions), [], `${execArgv} ${nodeOptions}`)
    }
  })

  test('should not take a flag that only contains a heap flag name for one', () => {
    assert.deepEqual(heapFlagsToAdd('api', ['--title=max-semi-space-size'], 'max-old-space-size'), HEAP_FLAGS.api)
  })
})

describe('allocatorEnvToAdd', () => {
  test("should give the command's allocator settings when the environment has none", () => {
    assert.deepEqual(allocatorEnvToAdd('ingest', { PATH: '/usr/bin' }), { MALLOC_MMAP_THRESHOLD_: '1048576' })
    assert.deepEqual(allocatorEnvToAdd('serve', {}), ALLOCATOR_ENV.serve)
  })

  test('should give none to a command that runs with the allocator as it is', () => {
    for (const command of ['api', 'migrate', 'produce', '--help', undefined]) {
      assert.deepEqual(allocatorEnvToAdd(command, {}), {}, String(command))
    }
  })

  test("should give none when the operator's environment already tunes malloc", () => {
    for (const env of [
      { MALLOC_MMAP_THRESHOLD_: '131072' },
      { MALLOC_ARENA_MAX: '2' },
      { MALLOC_TRIM_THRESHOLD_: '0' },
      { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' },
    ]) {
      assert.deepEqual(allocatorEnvToAdd('ingest', env), {}, JSON.stringify(env))
    }
  })

  test('should not take other variables for malloc settings', () => {
    for (const env of [{ MALLOC: '1' }, { GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }, { MY_MALLOC_ARENA_MAX_: '2' }]) {
      assert.deepEqual(allocatorEnvToAdd('ingest', env), ALLOCATOR_ENV.ingest, JSON.stringify(env))
    }
  })
})
