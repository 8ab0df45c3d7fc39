/**
 * A PostgreSQL primary and streaming replica of a test's own (stack/postgres-cluster.sh), on free
 * ports and in a folder of its own under the stack's .local, so it never touches the shared
 * single-node stack or a cluster of `./dev.sh up --cluster`. Torn down (stopped and removed) when
 * the test ends, however it ends: the cleanup is registered before anything starts, and
 * `pg_cluster_purge` is idempotent.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Scope } from '../helpers.ts'
import { ROOT } from './ingest-harness.ts'

export interface PgCluster {
  /** postgres://… of the application role on the primary (database rsvp_topk) */
  readonly primaryUrl: string
  /** the same on the replica */
  readonly replicaUrl: string
  /** pg_replica_stop: a fast shutdown of the replica only */
  stopReplica(): Promise<void>
  /** pg_replica_start: returns once the replica streams again and answers the application role */
  startReplica(): Promise<void>
  /** Runs `sql` with psql as the cluster's superuser on a member; resolves with its output (-At). */
  psql(member: 'primary' | 'replica', sql: string): Promise<string>
}

/** Resolves with stdout of a stack function (sourced with the stack's helpers), or rejects with its output. */
function stackFunction(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const script = 'set -euo pipefail; . stack/common.sh; . stack/postgres.sh; . stack/postgres-cluster.sh; "$@"'
  const child = spawn('bash', ['-c', script, 'pg-cluster', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`${args.join(' ')} failed (exit ${code}):\n${output.slice(-4000)}`)
    return stdout
  })
}

/** Whether nothing listens on 127.0.0.1:port now. */
async function portFree(port: number): Promise<boolean> {
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    return true
  } catch {
    return false
  } finally {
    if (server.listening) await new Promise((resolve) => server.close(resolve))
  }
}

/** Two free neighbouring ports (the primary's and the replica's), from a range no stack default uses. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 36_000 + 2 * Math.floor(Math.random() * 4000)
    if ((await portFree(port)) && (await portFree(port + 1))) return port
  }
  throw new Error('no two free neighbouring ports')
}

/** Brings up a primary and a replica for this test (see the module's comment). */
export async function startPgCluster(t: Scope, name: string): Promise<PgCluster> {
  const port = await freePortPair()
  const parent = join(process.env.RSVP_TOPK_LOCAL_DIR ?? join(ROOT, '.local'), 'test-clusters')
  const env = {
    RSVP_TOPK_CLUSTER_PG_PORT: String(port),
    RSVP_TOPK_CLUSTER_PG_DIR: join(parent, `${name}-${port}`),
  }
  t.after(async () => {
    await stackFunction(env, 'pg_cluster_purge')
    // Only when empty: another test's cluster may be in it.
    await rmdir(parent).catch(() => {})
  })
  await stackFunction(env, 'pg_cluster_up')
  const exported = await stackFunction(env, 'pg_cluster_env')
  const value = (variable: string) => {
    const found = new RegExp(`^export ${variable}='([^']+)'$`, 'm').exec(exported)?.[1]
    if (found === undefined) throw new Error(`pg_cluster_env printed no ${variable}`)
    return found
  }
  return {
    primaryUrl: value('DATABASE_URL'),
    replicaUrl: value('DATABASE_READ_URL'),
    stopReplica: async () => {
      await stackFunction(env, 'pg_replica_stop')
    },
    startReplica: async () => {
      await stackFunction(env, 'pg_replica_start')
    },
    psql: async (member, sql) => (await stackFunction(env, 'pg_cluster_psql', member, '-Atc', sql)).trim(),
  }
}
