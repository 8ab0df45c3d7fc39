/**
 * What a V8 heap snapshot (`node --heapsnapshot-signal`, written after a full collection, so it
 * holds only live objects) is made of: self size by kind of object, the largest first. Native
 * entries are the backing stores of Buffers and other ArrayBuffers.
 */
import { readFileSync } from 'node:fs'

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

export interface HeapSummary {
  readonly liveMb: number
  /** [kind, MB, objects], largest first */
  readonly largest: readonly (readonly [string, number, number])[]
}

export function summariseHeapSnapshot(file: string, top = 8): HeapSummary {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const stride = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const byKind = new Map<string, { bytes: number; count: number }>()
  let total = 0
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? 'unknown'
    const size = snapshot.nodes[i + sizeAt] as number
    total += size
    // Objects and closures by constructor or function name; strings, arrays, code and so on by type.
    const kind =
      type === 'object' || type === 'closure'
        ? `${type} ${snapshot.strings[snapshot.nodes[i + nameAt] as number]}`
        : type
    const entry = byKind.get(kind) ?? { bytes: 0, count: 0 }
    entry.bytes += size
    entry.count++
    byKind.set(kind, entry)
  }
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10
  return {
    liveMb: mb(total),
    largest: [...byKind]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, top)
      .map(([kind, { bytes, count }]) => [kind, mb(bytes), count] as const),
  }
}
