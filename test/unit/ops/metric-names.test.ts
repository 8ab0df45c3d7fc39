import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  dashboardExpressions,
  exportedNamesOf,
  metricNamesOf,
  PROMETHEUS_SYNTHETIC_SERIES,
  ruleExpressions,
  unexported,
} from '../../support/metric-names.ts'

const names = (expr: string) => [...metricNamesOf(expr)].sort()

describe('metricNamesOf', () => {
  test('should find the metrics and skip functions, aggregations, label lists, matchers and ranges', () => {
    assert.deepEqual(
      names(
        'histogram_quantile(0.99, sum by (job, le) (rate(http_seconds_bucket{route=~"/api/.+", status!="500"}[5m]))) > 0.25',
      ),
      ['http_seconds_bucket'],
    )
    assert.deepEqual(
      names('sum without (instance) (rate(a_total[$__rate_interval])) / ignoring (outcome) group_left (job) b_total'),
      ['a_total', 'b_total'],
    )
    assert.deepEqual(
      names('deriv(sum by (job) (lag)[10m:1m]) > 0 and on (job) SUM BY (job) (lag) > bool 20000 unless c'),
      ['c', 'lag'],
    )
    assert.deepEqual(names('time() - max by (instance) (mtime_seconds{job=~"$job"} > 0) offset -1h30m'), [
      'mtime_seconds',
    ])
    assert.deepEqual(names('x @ start() + y @ 1609746000 + topk(5, z) + 1e-3 + Inf + -NaN + 0x1f'), ['x', 'y', 'z'])
  })

  test('should not take text inside strings, comments or Grafana variables for metrics', () => {
    assert.deepEqual(
      names(`label_replace(up_total, "dst", "not_a_metric $1", "src", '(.*)') # comment_metric\n + \${var_metric}`),
      ['up_total'],
    )
    assert.deepEqual(names('count_values("le", job:requests:rate5m{a="}{"})'), ['job:requests:rate5m'])
  })

  test('should take {__name__="x"} as x, and refuse unbalanced text', () => {
    assert.deepEqual(names('{__name__="by_name_total", job="a"} + {job="b", __name__="other"}'), [
      'by_name_total',
      'other',
    ])
    assert.throws(() => metricNamesOf('sum(rate(x[5m])'), /unbalanced/)
    assert.throws(() => metricNamesOf('x{job="a}'), /unterminated|unbalanced/)
  })
})

describe('exportedNamesOf', () => {
  const exposition = [
    '# HELP rsvp_topk_ingest_messages_total RSVP messages consumed, by outcome',
    '# TYPE rsvp_topk_ingest_messages_total counter',
    '# HELP rsvp_topk_http_request_duration_seconds HTTP request duration',
    '# TYPE rsvp_topk_http_request_duration_seconds histogram',
    '# TYPE rsvp_topk_gc summary',
    'rsvp_topk_process_cpu_seconds_total 1.5',
    'rsvp_topk_cache_ring_member{node="127.0.0.1:26379"} 1',
  ].join('\n')

  test('should offer the families of TYPE lines (histograms by their series) and every sample', () => {
    assert.deepEqual([...exportedNamesOf(exposition)].sort(), [
      'rsvp_topk_cache_ring_member',
      'rsvp_topk_gc',
      'rsvp_topk_gc_count',
      'rsvp_topk_gc_sum',
      'rsvp_topk_http_request_duration_seconds',
      'rsvp_topk_http_request_duration_seconds_bucket',
      'rsvp_topk_http_request_duration_seconds_count',
      'rsvp_topk_http_request_duration_seconds_sum',
      'rsvp_topk_ingest_messages_total',
      'rsvp_topk_process_cpu_seconds_total',
    ])
  })

  test('should report a name that is not exported, with where it is read (the check can fail)', () => {
    const exported = exportedNamesOf(exposition)
    assert.deepEqual(
      unexported(
        [
          { where: 'rule Good', expr: 'sum(rate(rsvp_topk_http_request_duration_seconds_bucket[5m]))' },
          { where: 'panel "Bogus"', expr: 'sum by (outcome) (rate(rsvp_topk_ingest_mesages_total[5m]))' },
          { where: 'panel "Histogram read raw"', expr: 'rsvp_topk_ingest_messages_total_bucket' },
        ],
        exported,
      ),
      [
        'rsvp_topk_ingest_mesages_total (panel "Bogus")',
        'rsvp_topk_ingest_messages_total_bucket (panel "Histogram read raw")',
      ],
    )
  })
})

describe('unexported and Prometheus’s own series', () => {
  const exported = exportedNamesOf(
    '# TYPE rsvp_topk_dependency_up gauge\nrsvp_topk_dependency_up{dependency="kafka"} 0',
  )

  test('should accept up and the other series Prometheus writes for each scrape, though no service exports them', () => {
    assert.ok(!exported.has('up'), 'no /metrics offers up')
    assert.deepEqual(
      unexported(
        [
          { where: 'rule TargetDown', expr: 'up{job=~"rsvp-topk-(api|ingest)", optional!="true"} == 0' },
          {
            where: 'panel "Scrapes"',
            expr: 'scrape_duration_seconds > 5 and on (instance) scrape_samples_scraped == 0',
          },
          { where: 'panel "Firing"', expr: 'count by (alertname) (ALERTS{alertstate="firing"})' },
          { where: 'rule KafkaUnreachable', expr: 'rsvp_topk_dependency_up{dependency="kafka"} == 0' },
        ],
        exported,
      ),
      [],
    )
  })

  test('should still report a name that merely resembles one of them, or a misspelt one', () => {
    assert.deepEqual(
      unexported(
        [
          { where: 'rule Upper', expr: 'up_total == 0' },
          { where: 'rule Case', expr: 'UP == 0 or alerts' },
          { where: 'rule Both', expr: 'up == 0 unless rsvp_topk_dependency_ups' },
        ],
        exported,
      ),
      ['up_total (rule Upper)', 'UP (rule Case)', 'alerts (rule Case)', 'rsvp_topk_dependency_ups (rule Both)'],
    )
    assert.ok(PROMETHEUS_SYNTHETIC_SERIES.has('up'))
    assert.ok(!PROMETHEUS_SYNTHETIC_SERIES.has('rsvp_topk_up'))
  })
})

describe('ruleExpressions and dashboardExpressions', () => {
  test('should read plain, quoted and block-scalar exprs of a rule file', () => {
    const rules = [
      'groups:',
      '  - name: g',
      '    rules:',
      '      - alert: One',
      '        expr: a > 1',
      '        for: 1m',
      '      - alert: Two',
      '        expr: \'b{x="1"} == 0\'',
      '      - alert: Three',
      '        expr: |',
      '          c > 1',
      '',
      '          and d',
      '        labels:',
      '          severity: warning',
      '      - record: job:e:sum',
      '        expr: sum by (job) (e)',
    ].join('\n')
    assert.deepEqual(ruleExpressions(rules), [
      { where: 'rule One', expr: 'a > 1' },
      { where: 'rule Two', expr: 'b{x="1"} == 0' },
      { where: 'rule Three', expr: 'c > 1\n\n          and d' },
      { where: 'rule job:e:sum', expr: 'sum by (job) (e)' },
    ])
  })

  test("should read panels' targets, rows' panels and label_values variables of a dashboard", () => {
    const found = dashboardExpressions({
      panels: [
        { title: 'A', targets: [{ expr: 'a' }, { expr: 'b' }] },
        { title: 'Row', panels: [{ title: 'C', targets: [{ expr: 'c' }] }] },
      ],
      templating: {
        list: [
          { name: 'job', definition: 'label_values(d{x="1"}, job)' },
          { name: 'ds', definition: 'prometheus' },
        ],
      },
    })
    assert.deepEqual(found, [
      { where: 'panel "A"', expr: 'a' },
      { where: 'panel "A"', expr: 'b' },
      { where: 'panel "C"', expr: 'c' },
      { where: 'variable $job', expr: 'd{x="1"}' },
    ])
  })
})
