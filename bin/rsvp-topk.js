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

// The long-running commands get V8 heap flags chosen by measurement (BENCHMARKS.md, "Memory"): on
// a machine with much memory V8 sizes the young generation at two 64 MB semi-spaces, which the
// ingest fills and keeps resident while it gives no measurable throughput over 16 MB ones. Flags
// must be set before V8 starts, so the process re-executes itself once with them
// (process.execve: the same PID, stdio and environment, so supervisors and signals see no
// difference). A flag given by the user (on the command line or in NODE_OPTIONS) wins.
const HEAP_FLAGS = ['--max-semi-space-size=16']
const LONG_RUNNING = new Set(['ingest', 'serve', 'api'])
const REEXECUTED = 'RSVP_TOPK_HEAP_FLAGS_SET'
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
const missing = HEAP_FLAGS.filter((flag) => !given.some((arg) => arg.split('=')[0] === flag.split('=')[0]))
if (
  LONG_RUNNING.has(process.argv[2] ?? '') &&
  missing.length > 0 &&
  process.env[REEXECUTED] === undefined &&
  typeof process.execve === 'function'
) {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    [REEXECUTED]: '1',
  })
}
await import('../src/cli.ts')
