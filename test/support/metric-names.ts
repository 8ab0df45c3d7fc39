/**
 * Metric names on both sides of the operations kit: those a PromQL expression (an alert rule, a
 * dashboard panel) reads, and those a Prometheus text exposition (a service's /metrics) offers.
 * Also reads the PromQL out of ops/alerts.yml and ops/grafana-dashboard.json.
 */

// Case-insensitive in PromQL. `by` & co. take a parenthesised list of label names.
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan'])
// An aggregation may put its `by (…)` before the parenthesis: `sum by (job) (x)`.
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
])

const IDENTIFIER = /[a-zA-Z_:][a-zA-Z0-9_:]*/y
// Numbers (1, 0.99, 1e-3, 0x1f) and durations (5m, 1h30m, 250ms) are one token each.
const NUMBER_OR_DURATION = /(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:[a-zA-Z]+[0-9]*)*/y

/** The index just past the string literal that starts at `start` ("…", '…' or `…`). */
function skipString(text: string, start: number): number {
  const quote = text[start]
  let i = start + 1
  while (i < text.length && text[i] !== quote) i += quote !== '`' && text[i] === '\\' ? 2 : 1
  if (i >= text.length) throw new Error(`unterminated string at ${start} in: ${text}`)
  return i + 1
}

/** The index of the bracket that closes the one at `start`, string literals skipped. */
function closing(text: string, start: number, open: string, close: string): number {
  let depth = 0
  for (let i = start; i < text.length; ) {
    const c = text[i]
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(text, i)
      continue
    }
    if (c === open) depth++
    if (c === close && --depth === 0) return i
    i++
  }
  throw new Error(`unbalanced ${open}${close} at ${start} in: ${text}`)
}

/**
 * The metric names a PromQL expression reads. A tokenizer, not a parser: it skips string
 * literals, label matchers `{…}` (but `{__name__="x"}` names x), ranges and subqueries (`[5m]`,
 * `[10m:1m]`, `[$__rate_interval]`), numbers and durations (`offset 1h`), Grafana variables
 * (`$job`, `${job}`), keywords (and, or, unless, bool, offset, …), aggregation and function names
 * (an identifier followed by `(`), and the label lists of by, without, on, ignoring, group_left and
 * group_right. Every other identifier is a metric name. Throws on unbalanced brackets or quotes.
 */
export function metricNamesOf(expr: string): Set<string> {
  const names = new Set<string>()
  let depth = 0
  let i = 0
  while (i < expr.length) {
    const c = expr[i] as string
    if (c === '#') {
      const end = expr.indexOf('\n', i)
      i = end === -1 ? expr.length : end
    } else if (c === '"' || c === "'" || c === '`') {
      i = skipString(expr, i)
    } else if (c === '{') {
      const end = closing(expr, i, '{', '}')
      for (const match of expr.slice(i + 1, end).matchAll(/(?:^|,)\s*__name__\s*=\s*"([^"]*)"/g)) {
        names.add(match[1] as string)
      }
      i = end + 1
    } else if (c === '[') {
      i = closing(expr, i, '[', ']') + 1
    } else if (c === '(' || c === ')') {
      depth += c === '(' ? 1 : -1
      if (depth < 0) throw new Error(`unbalanced () at ${i} in: ${expr}`)
      i++
    } else if (c === '$') {
      i =
        expr[i + 1] === '{'
          ? closing(expr, i + 1, '{', '}') + 1
          : i + 1 + (/^[a-zA-Z0-9_]*/.exec(expr.slice(i + 1))?.[0].length ?? 0)
    } else if (/[0-9.]/.test(c)) {
      NUMBER_OR_DURATION.lastIndex = i
      i = NUMBER_OR_DURATION.test(expr) ? NUMBER_OR_DURATION.lastIndex : i + 1
    } else if (/[a-zA-Z_:]/.test(c)) {
      IDENTIFIER.lastIndex = i
      IDENTIFIER.test(expr)
      const identifier = expr.slice(i, IDENTIFIER.lastIndex)
      i = IDENTIFIER.lastIndex
      const keyword = identifier.toLowerCase()
      let next = i
      while (next < expr.length && /\s/.test(expr[next] as string)) next++
      if (LABEL_LIST_KEYWORDS.has(keyword)) {
        if (expr[next] === '(') i = closing(expr, next, '(', ')') + 1
      } else if (KEYWORDS.has(keyword) || AGGREGATIONS.has(keyword) || expr[next] === '(') {
        // a keyword, an aggregation, or a function's name
      } else {
        names.add(identifier)
      }
    } else {
      i++
    }
  }
  if (depth !== 0) throw new Error(`unbalanced () in: ${expr}`)
  return names
}

/**
 * The names a Prometheus text exposition offers: every sample's name, and from each `# TYPE`
 * line the family's own (so a labelled metric without samples yet counts) with, for histograms
 * and summaries, the series they are read by (`_bucket`, `_sum`, `_count`).
 */
export function exportedNamesOf(exposition: string): Set<string> {
  const names = new Set<string>()
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line)
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string]
      names.add(name)
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix)
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)
    if (sample) names.add(sample[1] as string)
  }
  return names
}

/** Where an expression comes from, for messages: 'alert RsvpTopkIngestStalled', 'panel "Consumer lag"'. */
export interface Expression {
  readonly where: string
  readonly expr: string
}

/**
 * The `expr` of each rule in a Prometheus rule file. Reads the two forms ops/alerts.yml uses, a
 * plain or quoted scalar on the key's line and a block scalar (`|`, `>`) on the lines indented
 * below it, so that the tests need no YAML parser; a rule in another form is missed, which the
 * caller's count of `- alert:` lines catches.
 */
export function ruleExpressions(rulesYaml: string): Expression[] {
  const lines = rulesYaml.split('\n')
  const found: Expression[] = []
  let rule = '?'
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string
    const name = /^\s*- (?:alert|record):\s*(\S+)/.exec(line)
    if (name) rule = name[1] as string
    const key = /^(\s*)expr:\s*(.*)$/.exec(line)
    if (!key) continue
    const indent = (key[1] as string).length
    const value = (key[2] as string).trim()
    if (/^[|>][-+]?$/.test(value)) {
      const block: string[] = []
      while (n + 1 < lines.length) {
        const below = lines[n + 1] as string
        if (below.trim() !== '' && below.length - below.trimStart().length <= indent) break
        block.push(below)
        n++
      }
      found.push({ where: `rule ${rule}`, expr: block.join('\n').trim() })
    } else {
      const quoted = /^'(.*)'$/.exec(value) ?? /^"(.*)"$/.exec(value)
      found.push({ where: `rule ${rule}`, expr: quoted ? (quoted[1] as string).replaceAll("''", "'") : value })
    }
  }
  return found
}

interface DashboardPanel {
  readonly title?: string
  readonly targets?: ReadonlyArray<{ readonly expr?: string }>
  readonly panels?: readonly DashboardPanel[]
}

/**
 * The PromQL of a Grafana dashboard: each panel's targets (rows' nested panels too), and the
 * selectors of its `label_values(<selector>, label)` variables.
 */
export function dashboardExpressions(dashboard: {
  readonly panels?: readonly DashboardPanel[]
  readonly templating?: { readonly list?: ReadonlyArray<{ readonly name?: string; readonly definition?: string }> }
}): Expression[] {
  const found: Expression[] = []
  const visit = (panels: readonly DashboardPanel[] | undefined) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (target.expr !== undefined) found.push({ where: `panel "${panel.title}"`, expr: target.expr })
      }
      visit(panel.panels)
    }
  }
  visit(dashboard.panels)
  for (const variable of dashboard.templating?.list ?? []) {
    const selector = /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/s.exec(variable.definition ?? '')
    if (selector) found.push({ where: `variable $${variable.name}`, expr: selector[1] as string })
  }
  return found
}

/**
 * Series that no service exports, because Prometheus writes them itself: for each scrape of each
 * target (`up` is 1 when the scrape succeeded, 0 when it failed; the others describe the scrape),
 * and for each alerting rule (`ALERTS`, `ALERTS_FOR_STATE`). A rule may read them although no
 * /metrics offers them: RsvpTopkTargetDown reads `up`, which is the only way to see a process that
 * does not run. Only these exact names: `up_total` or `upstream_bytes` is the service's business.
 */
export const PROMETHEUS_SYNTHETIC_SERIES: ReadonlySet<string> = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'ALERTS',
  'ALERTS_FOR_STATE',
])

/**
 * Each name an expression reads that `exported` lacks, with where it is read; Prometheus's own
 * series (PROMETHEUS_SYNTHETIC_SERIES) are never missing.
 */
export function unexported(expressions: readonly Expression[], exported: ReadonlySet<string>): string[] {
  return expressions.flatMap(({ where, expr }) =>
    [...metricNamesOf(expr)]
      .filter((name) => !exported.has(name) && !PROMETHEUS_SYNTHETIC_SERIES.has(name))
      .map((name) => `${name} (${where})`),
  )
}
