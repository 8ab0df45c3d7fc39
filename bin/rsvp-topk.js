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
await import('../src/cli.ts')
