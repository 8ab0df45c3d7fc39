/**
 * The live page: reads its view (k, scope, filters) from the URL, follows the top-k stream of
 * that view, and keeps the table in place, row by row, so what moved can be highlighted. It only
 * reads: every parameter goes to the API as given, and the API's checks decide (a bad one shows
 * the API's own message). Text from the network goes into the page as text, never as markup.
 */
const API = '/api/v1/events'
const PARAMETERS = ['k', 'date', 'last', 'country', 'city', 'topic']
/** `last`'s units, as the API reads them (15m, 1h, 7d), in words. */
const UNITS = { m: ['minute', 'minutes'], h: ['hour', 'hours'], d: ['day', 'days'] }
const HOUR = 3_600_000
/** The latest instant the API accepts (epoch ms): 10000-01-01T00:00:00Z, the end of year 9999. */
const LATEST_INSTANT = 253_402_300_800_000
const SPARK_HOURS = 24
const SPARK_ROWS = 50
const SPARK_REFRESH_MS = 10_000
const SPARK_PARALLEL = 3
const RETRY_FIRST_MS = 1000
const RETRY_MAX_MS = 10_000
const SVG = 'http://www.w3.org/2000/svg'

const $ = (id) => document.getElementById(id)
const form = $('controls')
const tbody = document.querySelector('#ranking tbody')
const count = new Intl.NumberFormat('en')
/** event_id → { id, tr, cells, rank, yes, attendees, sparkAt, sparkYes, loading } */
const rows = new Map()

let view = new URLSearchParams()
let source = null
// Every view change starts a new generation: answers that arrive for an older one are dropped.
let generation = 0
let quiet = true
let retryTimer = 0
let retryDelay = RETRY_FIRST_MS
let newestMtime = null
// Sparklines wait for the first status: their window ends at the stream's newest RSVP.
let statusSeen = false
let sparkTimer = 0
let sparksLoading = 0
// History URLs the API refused (400): asking again cannot help, so they are not asked for again.
const refusedHistory = new Set()

/** The view a query string asks for, with only the parameters the page knows. */
function viewOf(search) {
  const given = new URLSearchParams(search)
  const result = new URLSearchParams()
  for (const name of PARAMETERS) {
    const value = given.get(name)?.trim()
    if (value) result.set(name, value)
  }
  return result
}

/** Puts a view into the controls (on load, on back/forward, on clear). */
function fillControls(next) {
  form.elements.k.value = next.get('k') ?? '10'
  const scope = next.has('date') ? 'date' : (next.get('last') ?? '')
  const select = form.elements.scope
  // A window the URL names but the list lacks (last=7d) gets an option of its own.
  if (![...select.options].some((option) => option.value === scope)) {
    const length = lengthInWords(scope)
    select.add(new Option(length === null ? scope : `the last ${length}`, scope))
  }
  select.value = scope
  form.elements.date.value = next.get('date') ?? ''
  for (const name of ['country', 'city', 'topic']) form.elements[name].value = next.get(name) ?? ''
  $('date-field').hidden = scope !== 'date'
}

/** The view the controls describe. k = 10 and all time are the defaults and stay out of the URL. */
function viewOfControls() {
  const next = new URLSearchParams()
  const k = form.elements.k.value.trim()
  if (k !== '' && k !== '10') next.set('k', k)
  const scope = form.elements.scope.value
  if (scope === 'date') {
    // A date scope starts on the stream's newest day, the one most likely to have RSVPs.
    if (form.elements.date.value === '')
      form.elements.date.value = new Date(newestMtime ?? Date.now()).toISOString().slice(0, 10)
    next.set('date', form.elements.date.value)
  } else if (scope !== '') {
    next.set('last', scope)
  }
  for (const name of ['country', 'city', 'topic']) {
    const value = form.elements[name].value.trim()
    if (value !== '') next.set(name, value)
  }
  return next
}

/** Shows a view: into the URL (a new history entry when `push`), the caption, and the stream. */
function show(next, push) {
  if (push && next.toString() === view.toString()) return
  view = next
  if (push) history.pushState(null, '', next.size > 0 ? `?${next}` : location.pathname)
  $('caption').textContent = captionOf(next)
  rows.clear()
  tbody.replaceChildren()
  $('empty').hidden = true
  showProblem(null)
  quiet = true
  retryDelay = RETRY_FIRST_MS
  setStatus('connecting', 'Connecting…')
  follow(++generation)
}

/**
 * What a view shows, in words. Only what reads as the API reads it is described, and never
 * `refused`, the parameter the API named as not valid: no "Top 0 events" or "in the last bogus"
 * next to the API's message.
 */
function captionOf(shown, refused = null) {
  const given = (name) => (name === refused ? null : (shown.get(name) ?? null))
  const k = shown.has('k') ? given('k') : '10'
  const top = k !== null && /^\d{1,10}$/.test(k) && Number(k) >= 1 ? `Top ${Number(k)} events` : 'Top events'
  const date = given('date')
  const length = lengthInWords(given('last'))
  let when = ''
  if (date !== null && /^\d{4}-\d\d-\d\d$/.test(date)) when = `, on ${date} (UTC)`
  else if (length !== null) when = `, in the last ${length}`
  else if (!shown.has('date') && !shown.has('last')) when = ', all time'
  const where = [given('city'), given('country')?.toUpperCase()].filter(Boolean).join(', ')
  const topic = given('topic')
  return `${top} by yes RSVPs${when}${where ? `, in ${where}` : ''}${topic ? `, topic ${topic}` : ''}`
}

/** A `last` length in words ("15 minutes", "hour", "24 hours", "7 days"), or null if it is not one. */
function lengthInWords(last) {
  const match = /^(\d{1,6})([mhd])$/.exec(last ?? '')
  const amount = match ? Number(match[1]) : 0
  if (amount < 1) return null
  const [one, many] = UNITS[match[2]]
  return amount === 1 ? one : `${count.format(amount)} ${many}`
}

const query = () => (view.size > 0 ? `?${view}` : '')
const streamUrl = () => `${API}/topk/stream${query()}`

/** Opens the stream of the current view; the browser reconnects by itself after a dropped connection. */
function follow(current) {
  clearTimeout(retryTimer)
  source?.close()
  const stream = new EventSource(streamUrl())
  source = stream
  stream.addEventListener('open', () => {
    retryDelay = RETRY_FIRST_MS
    showProblem(null)
    setStatus('live', 'Live')
  })
  stream.addEventListener('ranking', (message) => render(readJson(message.data)))
  stream.addEventListener('status', (message) => showFigures(readJson(message.data)))
  stream.addEventListener('error', () => {
    if (source !== stream) return
    if (stream.readyState === EventSource.CONNECTING) {
      setStatus('lost', 'Connection lost — reconnecting…')
      return
    }
    // Closed for good: the server answered without a stream (a refused query, too many streams,
    // not ready yet). EventSource shows neither the status nor the body: ask the same URL.
    stream.close()
    void diagnose(current)
  })
}

/**
 * Why the stream was refused: the stream's URL asked once, as JSON, for its status and error
 * body. Should it stream this time, it is let go at once. null when the server does not answer.
 */
async function askStream() {
  const abort = new AbortController()
  try {
    const response = await fetch(streamUrl(), {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      signal: abort.signal,
    })
    const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream')
    const body = streaming ? null : await response.json().catch(() => null)
    return { status: response.status, retryAfterS: Number(response.headers.get('retry-after')), body }
  } catch {
    return null
  } finally {
    abort.abort()
  }
}

/** Shows why the stream was refused: a bad query for good, anything else until a retry with backoff. */
async function diagnose(current) {
  const answer = await askStream()
  if (current !== generation) return
  const error = answer?.body?.error
  const message = typeof error?.message === 'string' ? error.message : null
  if (answer?.status === 400) {
    setStatus('invalid', 'Not following: the query is not valid')
    showProblem(message ?? 'The query is not valid.')
    $('caption').textContent = captionOf(view, typeof error?.parameter === 'string' ? error.parameter : null)
    return
  }
  // The plain route may answer while the stream does not (too many streams, an older server): show it.
  const plain = await fetch(`${API}/topk${query()}`).catch(() => null)
  const body = plain?.ok ? await plain.json().catch(() => null) : null
  if (current !== generation) return
  if (body !== null) render(body)
  if (answer !== null && answer.status >= 400 && message !== null) {
    // Refused with a reason (503: too many open streams, or still starting): say it, and retry.
    setStatus('lost', 'Not following: the server refused the stream — retrying…')
    showProblem(message)
  } else {
    setStatus('lost', 'Connection lost — reconnecting…')
  }
  const retryAfterMs = Number.isFinite(answer?.retryAfterS) ? answer.retryAfterS * 1000 : 0
  retryTimer = setTimeout(() => follow(current), Math.min(Math.max(retryDelay, retryAfterMs), RETRY_MAX_MS))
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS)
}

function readJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function setStatus(state, text) {
  const status = $('status')
  status.dataset.state = state
  // Rewriting the same text would make screen readers announce it again.
  if (status.textContent !== text) status.textContent = text
}

function showProblem(message) {
  $('problem').hidden = message === null
  $('problem').textContent = message ?? ''
}

function showFigures(status) {
  if (status === null || typeof status !== 'object') return
  const rate = Number(status.ingest_rate_per_s)
  // A slow stream reads better as 0.4/s than as 0/s.
  const shown = rate < 10 ? rate.toFixed(1) : count.format(Math.round(rate))
  $('rate').textContent = Number.isFinite(rate) && rate >= 0 ? `${shown} RSVPs/s` : '—'
  const newest = typeof status.newest_applied_mtime === 'string' ? Date.parse(status.newest_applied_mtime) : Number.NaN
  newestMtime = Number.isFinite(newest) ? newest : null
  statusSeen = true
  refreshSparks()
  const cell = $('newest')
  if (newestMtime === null) {
    cell.textContent = '—'
    return
  }
  const time = document.createElement('time')
  time.dateTime = new Date(newestMtime).toISOString()
  time.textContent = `${time.dateTime.slice(0, 19).replace('T', ' ')} UTC`
  cell.replaceChildren(time)
}

/** Brings the table to a ranking: rows are kept, moved and updated, never rebuilt. */
function render(body) {
  if (body === null || !Array.isArray(body.events)) return
  const kept = new Set()
  for (const event of body.events) {
    if (typeof event?.event_id !== 'string' || kept.has(event.event_id)) continue
    const index = kept.size
    kept.add(event.event_id)
    let row = rows.get(event.event_id)
    let change = quiet ? null : 'new'
    let move = quiet ? '' : 'new'
    if (row === undefined) {
      row = createRow(event.event_id)
      rows.set(event.event_id, row)
    } else if (event.rank !== row.rank) {
      change = event.rank < row.rank ? 'up' : 'down'
      move = `${event.rank < row.rank ? '▲' : '▼'}${Math.abs(row.rank - event.rank)}`
    } else {
      change = event.yes_rsvps !== row.yes || event.attendees !== row.attendees ? 'count' : null
      move = ''
    }
    fillRow(row, event)
    const here = tbody.children[index]
    if (here !== row.tr) tbody.insertBefore(row.tr, here ?? null)
    if (change !== null) highlight(row, change, move)
  }
  for (const [id, row] of rows) {
    if (kept.has(id)) continue
    row.tr.remove()
    rows.delete(id)
  }
  $('empty').hidden = rows.size > 0
  quiet = false
  refreshSparks()
}

function createRow(id) {
  const tr = document.createElement('tr')
  tr.dataset.eventId = id
  const cells = {}
  for (const name of ['rank', 'name', 'group', 'city', 'yes', 'attendees', 'trend']) {
    // The event's name heads its row, for screen readers reading a cell.
    const td = document.createElement(name === 'name' ? 'th' : 'td')
    if (name === 'name') td.scope = 'row'
    td.className = name === 'yes' || name === 'attendees' ? `${name} num` : name
    tr.append(td)
    cells[name] = td
  }
  cells.position = cells.rank.appendChild(document.createElement('span'))
  cells.move = cells.rank.appendChild(document.createElement('span'))
  cells.move.className = 'move'
  // The end of the row's highlight, or of its counts' (their animationend bubbles up here).
  tr.addEventListener('animationend', () => {
    tr.classList.remove('flash', 'flash-count')
    delete tr.dataset.change
    cells.move.textContent = ''
  })
  return { id, tr, cells, rank: 0, yes: 0, attendees: 0, sparkAt: 0, sparkYes: -1, sparkTo: 0, loading: false }
}

function fillRow(row, event) {
  const { cells } = row
  row.rank = event.rank
  row.yes = event.yes_rsvps
  row.attendees = event.attendees
  setText(cells.position, String(event.rank))
  const name = typeof event.name === 'string' && event.name !== '' ? event.name : event.event_id
  const href = webAddress(event.url)
  const link = cells.name.firstElementChild
  if (link?.getAttribute('href') !== href || link?.textContent !== name) {
    const shown = document.createElement(href === null ? 'span' : 'a')
    if (href !== null) shown.href = href
    shown.textContent = name
    cells.name.replaceChildren(shown)
  }
  const group = event.group ?? {}
  setText(cells.group, group.name ?? '—')
  setText(cells.city, [group.city, group.country?.toUpperCase()].filter(Boolean).join(', ') || '—')
  setText(cells.yes, count.format(event.yes_rsvps))
  setText(cells.attendees, count.format(event.attendees))
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text
}

/** Only http(s) links are made: a `javascript:` URL in an event would run in the page. */
function webAddress(url) {
  if (typeof url !== 'string') return null
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null
  } catch {
    return null
  }
}

/**
 * A short highlight: the whole row when it moved or entered, only its counts when they changed.
 * Restarting the animation needs a style flush between removing and adding the class.
 */
function highlight(row, change, move) {
  const { tr } = row
  tr.classList.remove('flash', 'flash-count')
  void tr.offsetWidth
  tr.dataset.change = change
  row.cells.move.textContent = move
  tr.classList.add(change === 'count' ? 'flash-count' : 'flash')
}

/**
 * The end of the sparklines' window: the hour after the stream's newest RSVP (a replay has its own
 * clock), and never past the latest instant the API accepts (an RSVP of 9999-12-31T23:59Z).
 */
const sparkEnd = () => Math.min((Math.floor((newestMtime ?? Date.now()) / HOUR) + 1) * HOUR, LATEST_INSTANT)

/** A row's history for the SPARK_HOURS before `to`, hour by hour; instants as epoch ms, encoded. */
function historyUrl(row, to) {
  const range = new URLSearchParams({ from: String(to - SPARK_HOURS * HOUR), to: String(to), step: 'hour' })
  return `${API}/${encodeURIComponent(row.id)}/history?${range}`
}

/**
 * Loads the sparklines of the rows that lack one, whose count changed or whose window moved since
 * theirs was drawn, a few at a time and at most one per row every SPARK_REFRESH_MS.
 */
function refreshSparks() {
  clearTimeout(sparkTimer)
  if (!statusSeen) return
  let soonest = Number.POSITIVE_INFINITY
  for (const row of rows.values()) {
    if (row.rank > SPARK_ROWS || row.loading || (row.yes === row.sparkYes && row.sparkTo === sparkEnd())) continue
    if (refusedHistory.has(historyUrl(row, sparkEnd()))) continue
    const due = row.sparkAt + SPARK_REFRESH_MS
    if (due > Date.now()) soonest = Math.min(soonest, due)
    else if (sparksLoading < SPARK_PARALLEL) void loadSpark(row, generation)
  }
  if (soonest < Number.POSITIVE_INFINITY) sparkTimer = setTimeout(refreshSparks, soonest - Date.now())
}

async function loadSpark(row, current) {
  sparksLoading++
  row.loading = true
  const yes = row.yes
  const to = sparkEnd()
  const url = historyUrl(row, to)
  try {
    const response = await fetch(url)
    if (response.status === 400) refusedHistory.add(url)
    const body = response.ok ? await response.json() : null
    if (current === generation && Array.isArray(body?.points)) {
      drawSpark(row, body.points)
      row.sparkYes = yes
      row.sparkTo = to
    }
  } catch {
    // Left as it was: tried again SPARK_REFRESH_MS from now.
  } finally {
    sparksLoading--
    row.loading = false
    row.sparkAt = Date.now()
    if (current === generation) refreshSparks()
  }
}

function drawSpark(row, points) {
  const width = 96
  const height = 24
  const values = points.map((point) => (Number.isFinite(point?.yes_rsvps) ? point.yes_rsvps : 0))
  const high = Math.max(1, ...values)
  const low = Math.min(0, ...values)
  const x = (i) => (values.length > 1 ? (i * width) / (values.length - 1) : width / 2)
  const y = (value) => height - 2 - ((value - low) / (high - low)) * (height - 4)
  const coordinates = values.map((value, i) => `${x(i).toFixed(1)},${y(value).toFixed(1)}`)
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('class', 'spark')
  svg.setAttribute('role', 'img')
  const total = values.reduce((sum, value) => sum + value, 0)
  svg.setAttribute('aria-label', `${count.format(total)} yes RSVPs in the last ${SPARK_HOURS} hours of the stream`)
  const area = document.createElementNS(SVG, 'polygon')
  area.setAttribute('points', `0,${height} ${coordinates.join(' ')} ${width},${height}`)
  area.setAttribute('class', 'area')
  const line = document.createElementNS(SVG, 'polyline')
  line.setAttribute('points', coordinates.join(' '))
  line.setAttribute('class', 'line')
  svg.append(area, line)
  row.cells.trend.replaceChildren(svg)
}

function applyControls(event) {
  event?.preventDefault()
  $('date-field').hidden = form.elements.scope.value !== 'date'
  if (!form.checkValidity()) {
    form.reportValidity()
    return
  }
  show(viewOfControls(), true)
}

form.addEventListener('submit', applyControls)
form.addEventListener('change', () => applyControls())
form.addEventListener('reset', (event) => {
  event.preventDefault()
  fillControls(new URLSearchParams())
  show(new URLSearchParams(), true)
})
window.addEventListener('popstate', () => {
  const next = viewOf(location.search)
  fillControls(next)
  show(next, false)
})

const initial = viewOf(location.search)
fillControls(initial)
show(initial, false)
