/**
 * A Redis Cluster of a test's own, brought up and down with the stack's functions
 * (stack/redis-cluster.sh), as `./dev.sh up --cluster` does, but on test ports and in a test folder:
 * the local stack's cluster, if one runs, is left alone. Its folder holds its own passwords, pid
 * files and nodes' data, so a run that crashed leaves nothing the next one trips on: it is stopped
 * (by its pid files) and removed before the cluster is formed again.
 */
import { execFile } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connectRedis, type RedisConnection } from '../../src/cache/redis-node.ts'
import type { RedisNodeConfig } from '../../src/config.ts'
import { type Scope, stackConfig } from '../helpers.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Where the test cluster lives: beside the stack's own data, in a folder of its own. */
export const TEST_CLUSTER_DIR = join(process.env.RSVP_TOPK_LOCAL_DIR ?? join(ROOT, '.local'), 'test-redis-cluster')
/** Its ports (and each port + 1000, the cluster bus); movable like the stack's. */
export const TEST_CLUSTER_PORTS = (process.env.RSVP_TOPK_TEST_CLUSTER_REDIS_PORTS ?? '26579 26580 26581')
  .trim()
  .split(/\s+/)

/** Runs one function of stack/redis-cluster.sh against the test cluster; resolves to its stdout. */
export async function clusterStack(fn: string, ...args: string[]): Promise<string> {
  const script = 'set -euo pipefail; . stack/common.sh; . stack/redis.sh; . stack/redis-cluster.sh; "$@"'
  try {
    const { stdout } = await run('bash', ['-c', script, 'bash', fn, ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        RSVP_TOPK_LOCAL_DIR: TEST_CLUSTER_DIR,
        RSVP_TOPK_CLUSTER_REDIS_PORTS: TEST_CLUSTER_PORTS.join(' '),
      },
    })
    return stdout
  } catch (error) {
    const { stderr } = error as { stderr?: string }
    throw new Error(`${fn} ${args.join(' ')} failed:\n${stderr ?? String(error)}`)
  }
}

export interface TestCluster {
  /** REDIS_CLUSTER for the service: the three masters, with the service's user */
  readonly url: string
  /** settings for a service process on this cluster (the ring's unset: the service takes one) */
  readonly env: Readonly<Record<string, string>>
  /** the three masters, with the service's user */
  readonly masters: readonly RedisNodeConfig[]
  /** a connection to one master as the admin user (the test cluster's own) */
  admin(node: RedisNodeConfig): Promise<RedisConnection>
  /** SIGKILL the master (redis_master_kill) */
  kill(node: RedisNodeConfig): Promise<void>
  /** starts the master again and waits until every node says cluster_state:ok (redis_master_start) */
  start(node: RedisNodeConfig): Promise<void>
}

/**
 * Brings the test cluster up (whatever a crashed run left is stopped and removed first) and tears
 * it down when `scope` ends, failed or not.
 */
export async function startTestCluster(scope: Scope): Promise<TestCluster> {
  scope.after(async () => {
    await clusterStack('redis_cluster_down')
    rmSync(TEST_CLUSTER_DIR, { recursive: true, force: true })
  })
  await clusterStack('redis_cluster_down')
  rmSync(TEST_CLUSTER_DIR, { recursive: true, force: true })
  await clusterStack('redis_cluster_up')
  const url = /^export REDIS_CLUSTER='([^']+)'$/m.exec(await clusterStack('redis_cluster_env'))?.[1]
  if (url === undefined) throw new Error('redis_cluster_env printed no REDIS_CLUSTER')
  const secrets = readFileSync(join(TEST_CLUSTER_DIR, 'secrets.env'), 'utf8')
  const adminPassword = /^REDIS_ADMIN_PASSWORD=(.+)$/m.exec(secrets)?.[1]
  if (adminPassword === undefined) throw new Error('the test cluster has no admin password')
  const env = { REDIS_RING: '', REDIS_RING_FILE: '', REDIS_CLUSTER: url }
  const masters = stackConfig(env).redis.cluster
  return {
    url,
    env,
    masters,
    admin: (node) => connectRedis({ ...node, username: 'rsvp_topk_admin', password: adminPassword }),
    kill: async (node) => void (await clusterStack('redis_master_kill', String(node.port))),
    start: async (node) => void (await clusterStack('redis_master_start', String(node.port))),
  }
}
