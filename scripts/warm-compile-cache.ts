/**
 * Fills Node.js's compile cache with every module under src/, so that `rsvp-topk` processes find
 * their TypeScript already stripped and never load the stripping transformer (bin/rsvp-topk.js
 * says why and where the cache lives). `./dev.sh` runs it after installing dependencies; an image
 * build runs it as the user, from the path and with the Node.js binary its processes will have
 * (the cache keeps one directory per Node.js version and user, and entries by file path).
 *
 *   node scripts/warm-compile-cache.ts    prints the number of modules and the cache directory
 *
 * Importing a module only declares things (no module under src/ acts when imported), so this
 * connects to nothing. Exits 1 when nothing could be written (NODE_DISABLE_COMPILE_CACHE=1, a
 * directory that cannot be created or written): the commands then still run, with the
 * transformer loaded.
 */
import { accessSync, constants as fsConstants, readdirSync } from 'node:fs'
import { constants, enableCompileCache, flushCompileCache, getCompileCacheDir } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { COMPILE_CACHE_DIR } from '../bin/compile-cache-dir.js'

function fail(why: string): never {
  process.stderr.write(`warm-compile-cache: ${why}; rsvp-topk runs without it\n`)
  process.exit(1)
}

// The directory bin/rsvp-topk.js uses (NODE_COMPILE_CACHE, when set, wins in both).
const cache = enableCompileCache(COMPILE_CACHE_DIR)
const enabled = [constants.compileCacheStatus.ENABLED, constants.compileCacheStatus.ALREADY_ENABLED]
if (!enabled.includes(cache.status)) fail(`the compile cache is off (${cache.message ?? 'NODE_DISABLE_COMPILE_CACHE'})`)
const src = fileURLToPath(new URL('../src/', import.meta.url))
const modules = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .sort()
for (const file of modules) await import(pathToFileURL(join(src, file)).href)
flushCompileCache()
// Node accepts a directory it cannot write to, and a flush that fails says nothing.
const directory = getCompileCacheDir() ?? fail('the compile cache has no directory')
try {
  accessSync(directory, fsConstants.W_OK)
} catch {
  fail(`${directory} cannot be written`)
}
if (readdirSync(directory).length === 0) fail(`nothing was written to ${directory}`)
process.stdout.write(`warm-compile-cache: ${modules.length} modules in ${directory}\n`)
