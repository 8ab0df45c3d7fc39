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
// V8 sizes its heap when the process starts: a command that runs with heap flags of its own
// (src/heap-flags.ts) replaces this process with one that has them: same PID, same stdio.
const { heapFlagsToAdd } = await import('../src/heap-flags.ts')
const flags = heapFlagsToAdd(process.argv[2], process.execArgv, process.env.NODE_OPTIONS)
if (flags.length > 0) {
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)])
}
await import('../src/cli.ts')
