/**
 * Fills Node.js's compile cache with every module under src/, so that `rsvp-topk` processes find
 * their TypeScript already stripped and never load the stripping transformer (about 30 MB of
 * resident memory each: bin/rsvp-topk.js says why). `./dev.sh` runs it after installing
 * dependencies; an image build runs it once with the same NODE_COMPILE_CACHE its processes get.
 *
 *   node scripts/warm-compile-cache.ts    prints the number of modules and the cache directory
 *
 * Importing a module only declares things (no module under src/ acts when imported), so this
 * connects to nothing. Exits 1 when the cache cannot be written (NODE_DISABLE_COMPILE_CACHE=1,
 * a read-only directory): the commands then still run, with the transformer loaded.
 */
import { readdirSync } from 'node:fs'
import { constants, enableCompileCache, flushCompileCache } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const cache = enableCompileCache()
if (
  cache.status !== constants.compileCacheStatus.ENABLED &&
  cache.status !== constants.compileCacheStatus.ALREADY_ENABLED
) {
  process.stderr.write(
    `warm-compile-cache: the compile cache is off (${cache.message ?? 'NODE_DISABLE_COMPILE_CACHE'})\n`,
  )
  process.exit(1)
}
const src = fileURLToPath(new URL('../src/', import.meta.url))
const modules = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .sort()
for (const file of modules) await import(pathToFileURL(join(src, file)).href)
flushCompileCache()
process.stdout.write(`warm-compile-cache: ${modules.length} modules in ${cache.directory}\n`)
