/**
 * The operations kit's Prometheus files, checked by promtool (Debian's `prometheus` package;
 * ./dev.sh test installs it and names it in RSVP_TOPK_PROMTOOL): ops/alerts.yml loads, its unit
 * tests (ops/alerts.test.yml) pass and fail once a rule is changed, ops/prometheus.yml is a valid
 * configuration that loads the rules, every alert is tested and has a severity and a runbook
 * section in ops/README.md, and every expression of ops/grafana-dashboard.json is valid PromQL.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { dashboardExpressions } from '../support/metric-names.ts'

const OPS = fileURLToPath(new URL('../../ops/', import.meta.url))
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's placeholder for an import input, literally
const DATA_SOURCE_INPUT = '${DS_PROMETHEUS}'
const read = (name: string) => readFileSync(join(OPS, name), 'utf8')

function promtool(args: readonly string[], cwd = OPS): { status: number | null; output: string } {
  const command = process.env.RSVP_TOPK_PROMTOOL
  assert.ok(command, 'RSVP_TOPK_PROMTOOL names promtool: run the tests through ./dev.sh test')
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** The rules of ops/alerts.yml, each as its name and its own lines. */
function alertRules(): { name: string; text: string }[] {
  const chunks = read('alerts.yml')
    .split(/^(?=\s*- alert: )/m)
    .slice(1)
  return chunks.map((text) => ({ name: /- alert: (\w+)/.exec(text)?.[1] ?? '?', text }))
}

/** A copy of ops/alerts.yml and its tests in a folder of their own, with `edit` applied to the rules. */
function withEditedRules(edit: (rules: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rsvp-topk-alerts-'))
  copyFileSync(join(OPS, 'alerts.test.yml'), join(dir, 'alerts.test.yml'))
  const rules = read('alerts.yml')
  const edited = edit(rules)
  assert.notEqual(edited, rules, 'the edit changed the rules')
  writeFileSync(join(dir, 'alerts.yml'), edited)
  return dir
}

describe('ops/alerts.yml', () => {
  test('promtool check rules loads every rule', () => {
    const { status, output } = promtool(['check', 'rules', 'alerts.yml'])
    assert.equal(status, 0, output)
    const rules = alertRules()
    assert.deepEqual(
      rules.map((rule) => rule.name),
      [
        'RsvpTopkIngestStalled',
        'RsvpTopkIngestRetrying',
        'RsvpTopkConsumerLagGrowing',
        'RsvpTopkDeadLetterRateHigh',
        'RsvpTopkMessagesRefused',
        'RsvpTopkApiErrors',
        'RsvpTopkApiLatencyHigh',
        'RsvpTopkCacheRingDegraded',
        'RsvpTopkPostgresUnreachable',
        'RsvpTopkKafkaUnreachable',
        'RsvpTopkReplicaDown',
        'RsvpTopkTargetDown',
        'RsvpTopkIngestAbsent',
      ],
      'the alerts of issue 13, and those that see an ingest without Kafka, a replica out of use, and a process not running',
    )
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`))
  })

  test('promtool test rules passes ops/alerts.test.yml', () => {
    const { status, output } = promtool(['test', 'rules', 'alerts.test.yml'])
    assert.equal(status, 0, output)
    assert.match(output, /SUCCESS/)
    assert.doesNotMatch(output, /FAILED/)
  })

  test('the unit tests fail when a rule fires too early, or not at all', () => {
    const early = withEditedRules((rules) =>
      rules.replace('(rsvp_topk_ingest_stalled_seconds) > 120', '(rsvp_topk_ingest_stalled_seconds) > 30'),
    )
    const never = withEditedRules((rules) =>
      rules.replace(
        'rsvp_topk_dependency_up{dependency="postgres"} == 0',
        'rsvp_topk_dependency_up{dependency="postgres"} < 0',
      ),
    )
    // Kafka read as unreachable while start-up waits for PostgreSQL, and the local stack's
    // optional ingest target paged for: both must fail their tests that must not fire.
    const untried = withEditedRules((rules) =>
      rules.replace(
        /rsvp_topk_dependency_up\{dependency="kafka"\} == 0\n\s+unless on \(job, instance\)\n\s+rsvp_topk_dependency_up\{dependency="postgres"\} == 0/,
        'rsvp_topk_dependency_up{dependency="kafka"} == 0',
      ),
    )
    const optional = withEditedRules((rules) => rules.replace(', optional!="true"}', '}'))
    try {
      let { status, output } = promtool(['test', 'rules', 'alerts.test.yml'], early)
      assert.equal(status, 1, output)
      assert.match(output, /FAILED[\s\S]*alertname: RsvpTopkIngestStalled/)
      ;({ status, output } = promtool(['test', 'rules', 'alerts.test.yml'], never))
      assert.equal(status, 1, output)
      assert.match(output, /FAILED[\s\S]*alertname: RsvpTopkPostgresUnreachable/)
      ;({ status, output } = promtool(['test', 'rules', 'alerts.test.yml'], untried))
      assert.equal(status, 1, output)
      assert.match(output, /FAILED[\s\S]*alertname: RsvpTopkKafkaUnreachable[\s\S]*instance="10\.0\.0\.3:9464"/)
      ;({ status, output } = promtool(['test', 'rules', 'alerts.test.yml'], optional))
      assert.equal(status, 1, output)
      assert.match(output, /FAILED[\s\S]*alertname: RsvpTopkTargetDown[\s\S]*optional="true"/)
    } finally {
      for (const dir of [early, never, untried, optional]) rmSync(dir, { recursive: true, force: true })
    }
  })

  test('every alert has a test where it fires and one where it does not', () => {
    const tests = read('alerts.test.yml')
    const firing = new Set([...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:/g)].map((m) => m[1]))
    const silent = new Set([...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts: \[\]/g)].map((m) => m[1]))
    for (const { name } of alertRules()) {
      assert.ok(firing.has(name), `${name} has a test where it fires`)
      assert.ok(silent.has(name), `${name} has a test where it does not`)
    }
  })

  test('every alert has a severity, a summary, a description and a runbook section in ops/README.md', () => {
    const readme = read('README.md')
    const headings = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => githubAnchor(m[1] as string)))
    for (const { name, text } of alertRules()) {
      assert.match(text, /^\s+severity: (critical|warning)$/m, `${name}: severity`)
      assert.match(text, /^\s+summary: '.+'$/m, `${name}: summary`)
      assert.match(text, /^\s+description: '.+'$/m, `${name}: description`)
      // A refused message is never expected, so that alert alone fires at once.
      if (name !== 'RsvpTopkMessagesRefused') assert.match(text, /^\s+for: \d+m$/m, `${name}: a for: duration`)
      const runbook = /^\s+runbook_url: 'ops\/README\.md#([a-z0-9-]+)'$/m.exec(text)?.[1]
      assert.equal(runbook, name.toLowerCase(), `${name}: runbook_url points at its own section`)
      assert.ok(headings.has(runbook), `ops/README.md has a section #${runbook}`)
    }
  })
})

describe('ops/prometheus.yml', () => {
  test('promtool check config accepts it, with the alert rules', () => {
    const { status, output } = promtool(['check', 'config', 'prometheus.yml'])
    assert.equal(status, 0, output)
    assert.match(output, /SUCCESS: 1 rule files found/)
    assert.match(output, /Checking alerts\.yml\s+SUCCESS/)
  })

  test('scrapes the API and the ingest as jobs of their own, the ingest optional (serve runs it on the API port)', () => {
    const config = read('prometheus.yml')
    const jobs = [...config.matchAll(/- job_name: (\S+)\n(?:\s{4,}.*\n?)*/g)].map((m) => ({
      name: m[1],
      targets: /targets: \[([^\]]*)\]/.exec(m[0])?.[1],
      optional: /^\s+optional: 'true'$/m.test(m[0]),
    }))
    assert.deepEqual(jobs, [
      { name: 'rsvp-topk-api', targets: "'127.0.0.1:8088'", optional: false },
      { name: 'rsvp-topk-ingest', targets: "'127.0.0.1:9464'", optional: true },
    ])
    // RsvpTopkTargetDown reads those jobs, and leaves the optional target out.
    const targetDown = alertRules().find((rule) => rule.name === 'RsvpTopkTargetDown')?.text ?? ''
    assert.match(targetDown, /up\{job=~"rsvp-topk-\(api\|ingest\)", optional!="true"\} == 0/)
  })
})

describe('ops/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(read('grafana-dashboard.json'))

  test('is a dashboard Grafana imports, asking for its Prometheus data source', () => {
    assert.deepEqual(
      dashboard.__inputs.map((input: { name: string; type: string; pluginId: string }) => [
        input.name,
        input.type,
        input.pluginId,
      ]),
      [['DS_PROMETHEUS', 'datasource', 'prometheus']],
    )
    assert.equal(dashboard.id, null, 'no id: Grafana gives one at import')
    assert.equal(typeof dashboard.uid, 'string')
    assert.equal(typeof dashboard.schemaVersion, 'number')
    const ids = new Set<number>()
    for (const panel of dashboard.panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} is unique`)
      ids.add(panel.id)
      const { x, w, h } = panel.gridPos
      assert.ok(x >= 0 && w > 0 && h > 0 && x + w <= 24, `panel "${panel.title}" fits the 24-column grid`)
      if (panel.type === 'row') continue
      assert.equal(panel.datasource?.uid, DATA_SOURCE_INPUT, `panel "${panel.title}" reads the input's data source`)
      assert.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`)
      for (const target of panel.targets) assert.equal(target.datasource?.uid, DATA_SOURCE_INPUT)
    }
  })

  test('every expression is valid PromQL (promtool, as recording rules)', () => {
    const expressions = dashboardExpressions(dashboard)
    assert.ok(expressions.length >= 30)
    // Grafana's variables, as Grafana would fill them in.
    const filled = (expr: string) =>
      expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*')
    const rules = expressions
      .map(
        ({ expr }, index) =>
          `      - record: dashboard:expression_${index}\n        expr: |\n${filled(expr)
            .split('\n')
            .map((line) => `          ${line}`)
            .join('\n')}\n`,
      )
      .join('')
    const dir = mkdtempSync(join(tmpdir(), 'rsvp-topk-dashboard-'))
    try {
      writeFileSync(join(dir, 'dashboard.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}`)
      const { status, output } = promtool(['check', 'rules', 'dashboard.yml'], dir)
      assert.equal(status, 0, output)
      assert.match(output, new RegExp(`SUCCESS: ${expressions.length} rules found`))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** GitHub's anchor for a Markdown heading: lower case, spaces to dashes, punctuation dropped. */
function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}
