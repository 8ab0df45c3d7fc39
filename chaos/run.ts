/**
 * ./dev.sh chaos: runs the chaos scenarios one after the other against the local stack and
 * prints one table (scenario, messages in, applied, dead-lettered, exact, recovery, restarts).
 * The table also goes to chaos/results/latest.md and .json. Exits 1 when a scenario is not exact.
 * With --cluster (./dev.sh chaos --cluster) it runs the clustered stack's scenarios instead
 * (cluster-scenarios.ts), and the table goes to chaos/results/cluster-latest.md and .json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Command } from 'commander'
import type { Scope } from '../test/helpers.ts'
import { clusterScenarios } from './cluster-scenarios.ts'
import type { ChaosRow, Scenario, Size } from './kit.ts'
import { scenarios } from './scenarios.ts'

const RESULTS = new URL('./results/', import.meta.url)

/** A Scope whose cleanups run, in order, when the scenario ends. */
function createScope(): Scope & { close(): Promise<void> } {
  const cleanups: (() => unknown)[] = []
  return {
    after(fn) {
      cleanups.push(fn)
    },
    async close() {
      for (const fn of cleanups) {
        try {
          await fn()
        } catch (error) {
          console.error(`  cleanup failed: ${(error as Error).message}`)
        }
      }
    },
  }
}

/** Runs one scenario in a scope of its own; a scenario that throws is a row that is not exact. */
export async function runScenario(
  name: string,
  size: Size,
  log: (message: string) => void = () => {},
): Promise<ChaosRow> {
  const scenario = [...scenarios, ...clusterScenarios].find((s) => s.name === name)
  if (!scenario) throw new Error(`no scenario ${name}`)
  const scope = createScope()
  const started = performance.now()
  try {
    return await scenario.run({ scope, size, log })
  } catch (error) {
    return {
      scenario: name,
      messagesIn: 0,
      applied: 0,
      deadLettered: 0,
      exact: false,
      recoverySeconds: (performance.now() - started) / 1000,
      restarts: 0,
      notes: [`failed: ${(error as Error).stack ?? error}`],
    }
  } finally {
    await scope.close()
  }
}

/** The table as Markdown, the same in the terminal, the results file and the README. */
export function table(rows: readonly ChaosRow[]): string {
  const lines = [
    '| scenario | messages in | applied | dead-lettered | exact | recovery s | restarts |',
    '|---|---:|---:|---:|---|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.scenario} | ${row.messagesIn.toLocaleString('en')} | ${row.applied.toLocaleString('en')} | ${row.deadLettered.toLocaleString('en')} | ${row.exact ? 'yes' : '**no**'} | ${row.recoverySeconds.toFixed(1)} | ${row.restarts} |`,
    ),
  ]
  return lines.join('\n')
}

async function main(): Promise<void> {
  const program = new Command('./dev.sh chaos')
    .description('Real service processes under faults, each scenario checked against the counting contract')
    .option('--quick', 'small sizes (what ./dev.sh test runs)')
    .option('--only <names...>', 'run only these scenarios')
    .option('--cluster', "the clustered stack's scenarios, against ./dev.sh up --cluster (./dev.sh chaos --cluster)")
    .addHelpText(
      'after',
      `\nScenarios (full sizes; --quick in brackets):\n${list(scenarios)}\n\nWith --cluster:\n${list(clusterScenarios)}\n\nThe table goes to stdout and to chaos/results/latest.md and latest.json (cluster-latest.* with --cluster); exit 1 when one is not exact.`,
    )
    .parse()
  const options = program.opts<{ quick?: boolean; only?: string[]; cluster?: boolean }>()
  const size: Size = options.quick ? 'quick' : 'full'
  const suite = options.cluster ? clusterScenarios : scenarios
  const chosen = options.only ?? suite.map((s) => s.name)
  for (const name of chosen) {
    if (!suite.some((s) => s.name === name)) program.error(`unknown scenario '${name}' (see --help)`)
  }
  const started = performance.now()
  const rows: ChaosRow[] = []
  for (const name of chosen) {
    const began = performance.now()
    console.error(`== ${name} (${size})`)
    const row = await runScenario(name, size, (message) => console.error(`   ${message}`))
    rows.push(row)
    console.error(
      `   ${row.exact ? 'exact' : 'NOT EXACT'} in ${((performance.now() - began) / 1000).toFixed(0)} s${row.notes.map((n) => `\n   - ${n}`).join('')}`,
    )
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1)
  const text = `${table(rows)}\n\n${size} suite, ${minutes} min, ${new Date().toISOString()}\n`
  console.log(`\n${text}`)
  mkdirSync(RESULTS, { recursive: true })
  const results = options.cluster ? 'cluster-latest' : 'latest'
  writeFileSync(new URL(`${results}.md`, RESULTS), text)
  writeFileSync(
    new URL(`${results}.json`, RESULTS),
    `${JSON.stringify({ size, minutes: Number(minutes), rows }, null, 2)}\n`,
  )
  process.exitCode = rows.every((row) => row.exact) ? 0 : 1
}

function list(suite: readonly Scenario[]): string {
  return suite.map((s) => `  ${s.name.padEnd(22)} ${s.summary}`).join('\n')
}

if (import.meta.main) await main()
