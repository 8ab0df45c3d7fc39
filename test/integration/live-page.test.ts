/**
 * The live page in a real browser (Debian's chromium, driven by playwright-core) against real
 * `rsvp-topk ingest` and `rsvp-topk api` processes on a fresh database and topic. RSVPs produced
 * to Kafka must change the ranking on screen without a reload; the controls must change the table
 * and the page's URL (and a URL must set the controls); the api process stopped must show as a
 * lost connection, and started again on the same port the page must recover by itself.
 *
 * Every wait is for a state of the page (polled through Playwright), never for a guessed delay;
 * the time limits only bound a test that would otherwise hang. Screenshots go to
 * test/results/screenshots/ (git-ignored).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { GeneratedMessage } from '../../src/producer/generator.ts'
import { freePort } from '../helpers.ts'
import { get } from '../support/http.ts'
import { createIngestFixture, type IngestProcess, produce, startCommand } from '../support/ingest-harness.ts'
import { type RsvpFields, rsvpMessage } from '../support/rsvp-messages.ts'

const SCREENSHOTS = fileURLToPath(new URL('../results/screenshots/', import.meta.url))
/** Bounds each wait for a page state; a state that comes never fails the test instead of hanging it. */
const WAIT_MS = 120_000

/** ./dev.sh test installs chromium and names it; by hand, Debian's path is tried. */
function chromiumPath(): string {
  const path = process.env.RSVP_TOPK_CHROMIUM ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined)
  assert.ok(path, 'RSVP_TOPK_CHROMIUM names the chromium binary: run the tests through ./dev.sh test')
  return path
}

const GROUPS = {
  chicago: {
    groupId: 70,
    groupName: 'Chicago Coders',
    groupUrlname: 'chicago-coders',
    groupCity: 'Chicago',
    groupCountry: 'us',
    topics: [{ urlkey: 'softwaredev', topic_name: 'Software Development' }],
  },
  berlin: {
    groupId: 71,
    groupName: 'Berlin Makers',
    groupUrlname: 'berlin-makers',
    groupCity: 'Berlin',
    groupCountry: 'de',
    topics: [{ urlkey: 'hardware', topic_name: 'Hardware' }],
  },
} satisfies Record<string, Partial<RsvpFields>>

const EVENTS = {
  alpha: { eventId: 'ev-alpha', eventName: 'TypeScript night', ...GROUPS.chicago },
  bravo: { eventId: 'ev-bravo', eventName: 'Soldering for beginners', ...GROUPS.berlin },
  charlie: { eventId: 'ev-charlie', eventName: 'Rust & coffee', ...GROUPS.chicago },
  delta: { eventId: 'ev-delta', eventName: 'Synth DIY evening', ...GROUPS.berlin },
}
type EventName = keyof typeof EVENTS

let nextRsvpId = 1
/** `count` new yes RSVPs to an event, each from another member, all of them now. */
function yes(event: EventName, count: number): GeneratedMessage[] {
  return Array.from({ length: count }, () =>
    rsvpMessage({ ...EVENTS[event], rsvpId: nextRsvpId++, mtime: Date.now(), response: 'yes' }),
  )
}

/** What a row shows: [rank, event name, yes count] as text. */
type Row = [rank: string, event: string, yes: string]

function row(rank: number, event: EventName, count: number): Row {
  return [String(rank), EVENTS[event].eventName, String(count)]
}

async function rowsOnScreen(page: Page): Promise<Row[]> {
  return page
    .locator('#ranking tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => [
        tr.querySelector('td.rank span')?.textContent ?? '',
        tr.querySelector('th.name')?.textContent ?? '',
        tr.querySelector('td.yes')?.textContent ?? '',
      ]),
    ) as Promise<Row[]>
}

/** Polls the page until `read` gives what `ok` accepts; fails with the last reading. */
async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the page shows ${JSON.stringify(value)}`)
    await sleep(50)
  }
}

function waitForRows(page: Page, want: Row[]): Promise<Row[]> {
  return until(
    `the rows ${JSON.stringify(want)}`,
    () => rowsOnScreen(page),
    (rows) => JSON.stringify(rows) === JSON.stringify(want),
  )
}

async function waitForStatus(page: Page, state: string, text: RegExp): Promise<void> {
  await until(
    `the status "${state}"`,
    () => page.locator('#status').evaluate((status) => [status.getAttribute('data-state'), status.textContent]),
    ([shown, said]) => shown === state && text.test(said ?? ''),
  )
}

const query = (page: Page) => new URL(page.url()).searchParams

/** A mark on the page's window: it survives updates in place and disappears with a reload. */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    ;(globalThis as { liveMark?: boolean }).liveMark = true
  })
}
async function sameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as { liveMark?: boolean }).liveMark === true)
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true })
}

test('the live page follows the ranking in a real browser: in place, through its controls and URL, across an api restart', async (t) => {
  await mkdir(SCREENSHOTS, { recursive: true })
  const fixture = await createIngestFixture(t, 2)
  const ingest = await startCommand(fixture, 'ingest', { METRICS_PORT: String(await freePort()) })
  const port = await freePort()
  let api: IngestProcess = await startCommand(fixture, 'api', { HTTP_PORT: String(port) })
  await Promise.all([ingest.ready(), api.ready()])
  const base = api.base

  const browser: Browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
  const pageErrors: string[] = []
  const consoleErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })

  await t.test('the page and its assets are served with their type, caching and a self-only CSP', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/assets/page.js', 'text/javascript'],
      ['/assets/page.css', 'text/css'],
      ['/assets/favicon.svg', 'image/svg+xml'],
    ] as const) {
      const response = await fetch(base + path)
      assert.equal(response.status, 200, path)
      assert.ok(
        response.headers.get('content-type')?.startsWith(type),
        `${path}: ${response.headers.get('content-type')}`,
      )
      assert.equal(response.headers.get('cache-control'), 'no-cache', path)
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'.*script-src 'self'/)
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff')
      const etag = response.headers.get('etag')
      assert.ok(etag, path)
      const again = await fetch(base + path, { headers: { 'if-none-match': etag } })
      assert.equal(again.status, 304, `${path} revalidates`)
    }
    assert.equal((await get(base, '/assets/nothing.js')).status, 404)
  })

  await t.test('it connects, says live, and shows an empty ranking', async () => {
    await page.goto(`${base}/`)
    await waitForStatus(page, 'live', /^Live$/)
    await page.locator('#empty').waitFor({ state: 'visible', timeout: WAIT_MS })
    await markDocument(page)
  })

  await t.test('RSVPs produced to Kafka change the ranking on screen, without a reload', async () => {
    await produce(fixture, [...yes('alpha', 3), ...yes('bravo', 2), ...yes('charlie', 1)])
    await waitForRows(page, [row(1, 'alpha', 3), row(2, 'bravo', 2), row(3, 'charlie', 1)])
    await produce(fixture, [...yes('charlie', 3), ...yes('delta', 1)])
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3), row(3, 'bravo', 2), row(4, 'delta', 1)])
    assert.ok(await sameDocument(page), 'the page updated in place, not by reloading')
    await screenshot(page, 'live-ranking')

    const link = page.getByRole('link', { name: EVENTS.charlie.eventName })
    assert.equal(await link.getAttribute('href'), 'https://www.meetup.com/x/events/ev-charlie/')
    const charlie = page.locator('#ranking tbody tr', { has: link })
    assert.equal(await charlie.locator('td.group').textContent(), 'Chicago Coders')
    assert.equal(await charlie.locator('td.city').textContent(), 'Chicago, US')
    await until(
      'the ingest figures',
      () => page.locator('.figures').textContent(),
      (text) => /RSVPs\/s/.test(text ?? '') && /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(text ?? ''),
    )
    await until(
      'a sparkline on every row',
      () => page.locator('#ranking tbody tr td.trend svg polyline').count(),
      (drawn) => drawn === 4,
    )
    await screenshot(page, 'live-ranking-settled')
  })

  await t.test('k and a filter set through the controls change the table and the URL', async () => {
    await page.getByLabel('How many (k)').fill('2')
    await page.getByLabel('How many (k)').press('Enter')
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3)])
    assert.equal(query(page).get('k'), '2')

    await page.getByLabel('City').fill('Berlin')
    await page.getByLabel('City').press('Enter')
    await waitForRows(page, [row(1, 'bravo', 2), row(2, 'delta', 1)])
    assert.equal(query(page).get('city'), 'Berlin')
    assert.equal(query(page).get('k'), '2')
    assert.match((await page.locator('caption').textContent()) ?? '', /Top 2 events .*in Berlin/)

    await page.getByLabel('Counting').selectOption('1h')
    await until(
      'last=1h in the URL',
      async () => query(page).get('last'),
      (last) => last === '1h',
    )
    await waitForRows(page, [row(1, 'bravo', 2), row(2, 'delta', 1)])
    assert.equal(await page.locator('caption').textContent(), 'Top 2 events by yes RSVPs, in the last hour, in Berlin')
    assert.ok(await sameDocument(page), 'the controls change the view in place')
    await screenshot(page, 'filtered')

    // A date scope shows its field, starting on the day of the newest RSVP applied.
    const newestDay = ((await page.locator('#newest time').getAttribute('datetime')) ?? '').slice(0, 10)
    await page.getByLabel('Counting').selectOption('date')
    assert.equal(await page.getByLabel('Date (UTC)').inputValue(), newestDay)
    assert.equal(query(page).get('date'), newestDay)
    assert.equal(query(page).get('last'), null)
    await waitForStatus(page, 'live', /^Live$/)
    assert.match((await page.locator('caption').textContent()) ?? '', new RegExp(`on ${newestDay} \\(UTC\\)`))
    await page.getByLabel('Counting').selectOption('1h')
  })

  await t.test('a shared URL sets the controls on load; back goes to the previous view', async () => {
    await page.reload()
    await waitForRows(page, [row(1, 'bravo', 2), row(2, 'delta', 1)])
    assert.equal(await page.getByLabel('How many (k)').inputValue(), '2')
    assert.equal(await page.getByLabel('City').inputValue(), 'Berlin')
    assert.equal(await page.getByLabel('Counting').inputValue(), '1h')

    await page.goto(`${base}/?k=3&topic=softwaredev`)
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3)])
    assert.equal(await page.getByLabel('Topic').inputValue(), 'softwaredev')
    await page.getByLabel('Country').fill('DE')
    await page.getByLabel('Country').press('Enter')
    await page.locator('#empty').waitFor({ state: 'visible', timeout: WAIT_MS })
    assert.equal(query(page).get('country'), 'DE')
    await page.goBack()
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3)])
    assert.equal(await page.getByLabel('Country').inputValue(), '')
  })

  await t.test('a window the list lacks is named in words, in the caption and the control', async () => {
    await page.goto(`${base}/?last=7d`)
    await waitForStatus(page, 'live', /^Live$/)
    assert.equal(await page.locator('caption').textContent(), 'Top 10 events by yes RSVPs, in the last 7 days')
    assert.equal(await page.getByLabel('Counting').inputValue(), '7d')
    assert.equal(await page.locator('#scope option:checked').textContent(), 'the last 7 days')
    await page.goto(`${base}/?last=15m&k=3`)
    await waitForStatus(page, 'live', /^Live$/)
    assert.equal(await page.locator('caption').textContent(), 'Top 3 events by yes RSVPs, in the last 15 minutes')
  })

  await t.test('an invalid query shows the API’s message, and a caption without the refused parameter', async () => {
    await page.goto(`${base}/?k=0`)
    await waitForStatus(page, 'invalid', /not valid/)
    assert.match((await page.locator('#problem').textContent()) ?? '', /k must be an integer from 1 to/)
    assert.equal(await page.locator('caption').textContent(), 'Top events by yes RSVPs, all time')

    await page.goto(`${base}/?k=3&last=bogus&city=Berlin`)
    await waitForStatus(page, 'invalid', /not valid/)
    assert.match((await page.locator('#problem').textContent()) ?? '', /last must be a length such as 15m/)
    assert.equal(await page.locator('caption').textContent(), 'Top 3 events by yes RSVPs, in Berlin')
  })

  await t.test('the keyboard reaches the controls, with a visible focus', async () => {
    await page.goto(`${base}/`)
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3), row(3, 'bravo', 2), row(4, 'delta', 1)])
    const focused = () =>
      page.evaluate(() => {
        const active = (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document
          .activeElement
        return active?.id ?? ''
      })
    for (let presses = 0; (await focused()) !== 'k'; presses++) {
      assert.ok(presses < 10, 'the k field is among the first stops of Tab')
      await page.keyboard.press('Tab')
    }
    const outline = await page.locator('#k').evaluate((element) => {
      const view = globalThis as unknown as { getComputedStyle(of: typeof element): { outlineStyle: string } }
      return view.getComputedStyle(element).outlineStyle
    })
    assert.notEqual(outline, 'none', 'the focused field shows an outline')
    await page.keyboard.press('ControlOrMeta+A')
    await page.keyboard.type('3')
    await page.keyboard.press('Enter')
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3), row(3, 'bravo', 2)])
    assert.equal(query(page).get('k'), '3')
  })

  await t.test('the api stopped shows a lost connection; started again, the page recovers by itself', async () => {
    await page.goto(`${base}/`)
    await waitForRows(page, [row(1, 'charlie', 4), row(2, 'alpha', 3), row(3, 'bravo', 2), row(4, 'delta', 1)])
    await waitForStatus(page, 'live', /^Live$/)
    await markDocument(page)

    api.child.kill('SIGTERM')
    // Unref'd: a pending bound must not keep the test process alive once the api has exited.
    const exit = await Promise.race([api.exited, sleep(30_000, undefined, { ref: false })])
    assert.ok(exit, `the api exits within 30 s of SIGTERM with a page connected:\n${api.output().slice(-2000)}`)
    assert.equal(exit.code, 0, api.output().slice(-2000))
    await waitForStatus(page, 'lost', /Connection lost.*reconnecting/)
    await screenshot(page, 'connection-lost')

    // The ingest goes on meanwhile: the page must show the new state once it is back.
    await produce(fixture, yes('bravo', 5))
    api = await startCommand(fixture, 'api', { HTTP_PORT: String(port) })
    await api.ready()
    await waitForStatus(page, 'live', /^Live$/)
    await waitForRows(page, [row(1, 'bravo', 7), row(2, 'charlie', 4), row(3, 'alpha', 3), row(4, 'delta', 1)])
    assert.ok(await sameDocument(page), 'the page recovered without a reload')
    await screenshot(page, 'reconnected')
  })

  await t.test('on a 375 px phone it shows the ranking without sideways scrolling', async () => {
    const phone = await browser.newPage({
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    await phone.goto(`${base}/`)
    await waitForRows(phone, [row(1, 'bravo', 7), row(2, 'charlie', 4), row(3, 'alpha', 3), row(4, 'delta', 1)])
    await until(
      'the sparklines',
      () => phone.locator('#ranking tbody tr td.trend svg').count(),
      (drawn) => drawn === 4,
    )
    const width = await phone.evaluate(
      () =>
        (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement
          .scrollWidth,
    )
    assert.ok(width <= 375, `the page is ${width} px wide at 375 px`)
    await screenshot(phone, 'phone')
    await phone.close()
  })

  await t.test(
    'a stream refused for load (TOPK_STREAMS_MAX) shows the server’s reason, and follows once one is free',
    async () => {
      // One stream at most: the first page holds it, the second is answered 503.
      const busy = await startCommand(fixture, 'api', { TOPK_STREAMS_MAX: '1' })
      await busy.ready()
      const holder = await browser.newPage()
      await holder.goto(`${busy.base}/`)
      await waitForStatus(holder, 'live', /^Live$/)
      const refused = await browser.newPage()
      await refused.goto(`${busy.base}/`)
      await waitForStatus(refused, 'lost', /refused the stream.*retrying/)
      assert.match(
        (await refused.locator('#problem').textContent()) ?? '',
        /^too many open streams \(TOPK_STREAMS_MAX 1\); try again later$/,
      )
      // The plain route still answers: the ranking is shown meanwhile.
      await waitForRows(refused, [row(1, 'bravo', 7), row(2, 'charlie', 4), row(3, 'alpha', 3), row(4, 'delta', 1)])
      await screenshot(refused, 'stream-refused')
      await holder.close()
      await waitForStatus(refused, 'live', /^Live$/)
      assert.equal(await refused.locator('#problem').isHidden(), true, 'the reason goes once the stream opens')
      await refused.close()
      busy.child.kill('SIGTERM')
      await busy.exited
    },
  )

  await t.test('an RSVP of 9999-12-31T23:59:59.999Z: the sparklines ask for a window the API accepts', async () => {
    await page.goto(`${base}/`)
    await waitForRows(page, [row(1, 'bravo', 7), row(2, 'charlie', 4), row(3, 'alpha', 3), row(4, 'delta', 1)])
    const histories: { url: URL; status: number }[] = []
    page.on('response', (response) => {
      const url = new URL(response.url())
      if (url.pathname.endsWith('/history')) histories.push({ url, status: response.status() })
    })
    const last = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
    await produce(fixture, [rsvpMessage({ ...EVENTS.alpha, rsvpId: nextRsvpId++, mtime: last, response: 'yes' })])
    await until(
      'the newest RSVP shown',
      () => page.locator('#newest time').getAttribute('datetime'),
      (shown) => shown === '9999-12-31T23:59:59.999Z',
    )
    // Each row's history up to the end of year 9999, asked once and answered.
    const ids = Object.values(EVENTS).map((event) => event.eventId)
    const ends = await until(
      'a history ending at 10000-01-01 for every row',
      async () => histories.filter(({ url }) => url.searchParams.get('to') === '253402300800000'),
      (found) => ids.every((id) => found.some(({ url }) => url.pathname === `/api/v1/events/${id}/history`)),
    )
    for (const { url, status } of ends) {
      assert.equal(status, 200, url.href)
      assert.equal(url.searchParams.get('from'), String(253_402_300_800_000 - 24 * 3_600_000))
      assert.equal(url.searchParams.get('step'), 'hour')
    }
    assert.deepEqual(
      histories.filter(({ status }) => status !== 200).map(({ url, status }) => `${status} ${url.href}`),
      [],
      'no history refused',
    )
    await until(
      'the sparklines',
      () => page.locator('#ranking tbody tr td.trend svg polyline').count(),
      (drawn) => drawn === 4,
    )
  })

  assert.deepEqual(pageErrors, [], 'no script error in the page')
  assert.deepEqual(
    consoleErrors.filter((text) => /Content Security Policy|Refused to/.test(text)),
    [],
    'nothing refused by the Content-Security-Policy',
  )
})
