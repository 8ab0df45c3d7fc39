// Where Node.js's compile cache lives: inside the install, never a shared temporary directory
// (bin/rsvp-topk.js says why). Plain JavaScript on purpose: bin/rsvp-topk.js loads it before the
// cache is on, and stripping a TypeScript file first would load the very transformer the cache
// exists to keep out of the process. scripts/warm-compile-cache.ts fills the same directory.
import { fileURLToPath } from 'node:url'

/** The compile cache directory of this install (absolute path); NODE_COMPILE_CACHE, when set, wins over it. */
export const COMPILE_CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/node-compile-cache', import.meta.url))
