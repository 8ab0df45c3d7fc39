#!/usr/bin/env node
// The rsvp-topk command. The TypeScript sources run as they are on Node.js 24 (type stripping),
// so an older Node gets a clear message instead of a loader error.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  process.stderr.write(
    `rsvp-topk needs Node.js 24 or newer; this is ${process.version}.\n` +
      'In a checkout, run: eval "$(./dev.sh env)"  (./dev.sh installs Node.js 24 when needed)\n',
  )
  process.exit(1)
}
// Type stripping loads a WebAssembly TypeScript transformer into every process that strips a
// file, and it stays for the process's life (14–31 MB of resident memory, measured: BENCHMARKS.md
// "Modules from the compile cache"). Node.js's compile cache keeps the stripped code on disk, so a
// process whose modules are all cached never loads the transformer. The cache lives inside the
// install (node_modules/.cache/node-compile-cache), not in a shared temporary directory whose
// entries another user could plant; NODE_COMPILE_CACHE, when set, wins. Node checks each entry
// against its file's path, length and CRC32, and keeps one directory per Node version and user.
// scripts/warm-compile-cache.ts fills it ahead of time; a process also writes what it compiled.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; a cache directory that cannot be written is skipped.
const { enableCompileCache } = await import('node:module')
const { COMPILE_CACHE_DIR } = await import('./compile-cache-dir.js')
enableCompileCache(COMPILE_CACHE_DIR)
// V8 sizes its heap, and glibc reads its allocator's settings, when the process starts: a command
// that runs with heap flags or allocator settings of its own (src/heap-flags.ts) replaces this
// process with one that has them: same PID, same stdio.
const { allocatorEnvToAdd, heapFlagsToAdd } = await import('../src/heap-flags.ts')
const flags = heapFlagsToAdd(process.argv[2], process.execArgv, process.env.NODE_OPTIONS)
const env = allocatorEnvToAdd(process.argv[2], process.env)
if (flags.length > 0 || Object.keys(env).length > 0) {
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    ...env,
  })
}
const { runCli } = await import('../src/cli.ts')
await runCli(process.argv)
