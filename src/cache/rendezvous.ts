/**
 * Rendezvous (highest-random-weight) hashing: a key belongs to the node that gives it the highest
 * weight. Taking a node away moves only that node's keys, spread evenly over the others, and
 * bringing it back returns exactly those keys. Every process computes the same owners from the
 * same node ids, so the weight function is part of the cache's layout: changing it moves keys.
 */

/** FNV-1a over UTF-16 code units: cheap, but similar keys (event:1, event:2) get similar hashes. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** MurmurHash3's finalizer: every input bit flips about half of the output bits. */
function fmix32(value: number): number {
  let hash = value
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

/**
 * The key is hashed once and mixed with each node's hash, rather than hashing node id + key per
 * node: fmix32(x ^ a) and fmix32(x ^ b) order like independent draws, which is what an even spread
 * (and an even spread of a departed node's keys) needs.
 */
function weight(keyHash: number, nodeId: string): number {
  return fmix32(keyHash ^ fmix32(fnv1a32(nodeId)))
}

/** The node that owns `key` among `nodeIds`; undefined when there is no node. */
export function ownerOf(key: string, nodeIds: readonly string[]): string | undefined {
  const keyHash = fnv1a32(key)
  let owner: string | undefined
  let best = -1
  for (const nodeId of nodeIds) {
    const w = weight(keyHash, nodeId)
    // Equal weights fall to the smaller id, so the owner never depends on the order of nodeIds.
    if (w > best || (w === best && owner !== undefined && nodeId < owner)) {
      owner = nodeId
      best = w
    }
  }
  return owner
}

/** The keys grouped by owner; empty when there is no node. Keys keep their order within a group. */
export function groupByOwner(keys: Iterable<string>, nodeIds: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>()
  if (nodeIds.length === 0) return groups
  for (const key of keys) {
    const owner = ownerOf(key, nodeIds) as string
    const group = groups.get(owner)
    if (group) group.push(key)
    else groups.set(owner, [key])
  }
  return groups
}
