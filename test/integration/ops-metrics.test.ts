/**
 * The alert rules (ops/alerts.yml) and the Grafana dashboard (ops/grafana-dashboard.json) read
 * only metrics the service exports: the names come from the /metrics of a real `rsvp-topk serve`
 * (ingest and API in one process, so one endpoint holds both), not from the source. And
 * rsvp_topk_dependency_up, which the PostgreSQL alert reads, says what the process sees.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { freePort } from '../helpers.ts'
import { get, metricValue, waitFor } from '../support/http.ts'
import { createIngestFixture, startCommand } from '../support/ingest-harness.ts'
import {
  dashboardExpressions,
  exportedNamesOf,
  metricNamesOf,
  PROMETHEUS_SYNTHETIC_SERIES,
  ruleExpressions,
  unexported,
} from '../support/metric-names.ts'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

test('every metric the alert rules and the dashboard read is one a running rsvp-topk serve exports', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const service = await startCommand(fixture, 'serve')
  await service.ready()
  const scrape = await get(service.base, '/metrics')
  assert.equal(scrape.status, 200)
  const exported = exportedNamesOf(scrape.text)
  for (const name of [
    'rsvp_topk_ingest_messages_total',
    'rsvp_topk_http_request_duration_seconds_bucket',
    'rsvp_topk_process_cpu_seconds_total',
  ]) {
    assert.ok(exported.has(name), `the scrape holds the ingest's, the API's and the process's metrics (${name})`)
  }

  const rules = ruleExpressions(read('ops/alerts.yml'))
  assert.equal(rules.length, read('ops/alerts.yml').match(/^\s*- alert: /gm)?.length, 'every rule’s expr was read')
  const dashboard = dashboardExpressions(JSON.parse(read('ops/grafana-dashboard.json')))
  assert.ok(dashboard.length >= 30, 'every panel’s expressions were read')
  for (const { where, expr } of [...rules, ...dashboard]) {
    assert.ok(metricNamesOf(expr).size > 0, `${where} reads a metric: ${expr}`)
  }
  assert.deepEqual(unexported([...rules, ...dashboard], exported), [], 'names read but not exported')
  // `up` (RsvpTopkTargetDown) is Prometheus's own series, not the service's: accepted by name only.
  const synthetic = rules.filter(({ expr }) => [...metricNamesOf(expr)].some((n) => PROMETHEUS_SYNTHETIC_SERIES.has(n)))
  assert.deepEqual(
    synthetic.map(({ where }) => where),
    ['rule RsvpTopkTargetDown'],
  )
  assert.ok(!exported.has('up'), 'the service does not export up itself')
  // The same check against the same scrape finds a name the service does not export.
  assert.deepEqual(
    unexported(
      [{ where: 'a misspelt panel', expr: 'sum by (outcome) (rate(rsvp_topk_ingest_message_total[5m]))' }],
      exported,
    ),
    ['rsvp_topk_ingest_message_total (a misspelt panel)'],
  )
})

test('rsvp_topk_dependency_up is 1 for what the process reaches and 0 for a PostgreSQL it cannot', async (t) => {
  const fixture = await createIngestFixture(t, 1)
  const service = await startCommand(fixture, 'serve')
  await service.ready()
  // The ring's nodes join once their first health check answers.
  const reached = await waitFor('every dependency up', async () => {
    const { text } = await get(service.base, '/metrics')
    const up = ['postgres', 'kafka', 'redis'].map((d) =>
      metricValue(text, 'rsvp_topk_dependency_up', `dependency="${d}"`),
    )
    return up.every((value) => value === 1) ? up : undefined
  })
  assert.deepEqual(reached, [1, 1, 1])

  // Nothing listens on that port: `api` serves /metrics at once and waits for PostgreSQL.
  const nowhere = new URL(fixture.databaseUrl)
  nowhere.port = String(await freePort())
  const api = await startCommand(fixture, 'api', { DATABASE_URL: nowhere.toString() })
  const { text } = await waitFor('the api’s /metrics', async () => {
    const reply = await get(api.base, '/metrics')
    return reply.status === 200 ? reply : undefined
  })
  assert.equal(metricValue(text, 'rsvp_topk_dependency_up', 'dependency="postgres"'), 0)
  assert.equal(metricValue(text, 'rsvp_topk_dependency_up', 'dependency="kafka"'), undefined, '`api` has no Kafka')
  assert.equal((await get(api.base, '/readyz')).status, 503, 'and /readyz agrees')
})
