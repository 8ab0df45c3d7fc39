/**
 * schemathesis (PyPI; ./dev.sh installs it into .local/venv) against /openapi.json of a real
 * `rsvp-topk serve`: every operation, valid and invalid inputs (`--mode all`), methods the
 * document does not list, and stateful sequences. It must find no 5xx and no answer that breaks
 * the document (status, content type, headers, body schema). `positive_data_acceptance` is left
 * out: some rules span parameters and cannot be written in OpenAPI (a window spans at most
 * TOPK_MAX_WINDOW_DAYS; `to` needs `from`), so a schema-valid request may rightly get 400.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { createIngestFixture, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'

const run = promisify(execFile)

/** The exact command, as the README shows it. */
function schemathesisArguments(base: string): string[] {
  return [
    'run',
    `${base}/openapi.json`,
    '--checks',
    'all',
    '--exclude-checks',
    'positive_data_acceptance',
    // A live stream never ends by itself, which schemathesis would wait on; live-stream.test.ts covers it.
    '--exclude-path',
    '/api/v1/events/topk/stream',
    '--mode',
    'all',
    '--max-examples',
    '50',
    '--seed',
    '1',
    '--no-color',
  ]
}

test('schemathesis finds nothing against the OpenAPI document of a running serve', async (t) => {
  const st = process.env.RSVP_TOPK_SCHEMATHESIS
  assert.ok(st, 'RSVP_TOPK_SCHEMATHESIS names the schemathesis command: run the tests through ./dev.sh test')
  const fixture = await createIngestFixture(t, 1)
  const service = await startCommand(fixture, 'serve', { LOG_LEVEL: 'warn' })
  await produce(fixture, [rsvpMessage({ rsvpId: 1, eventId: 'E1' }), rsvpMessage({ rsvpId: 2, eventId: 'E2' })])
  await service.ready()
  const result = await run(st, schemathesisArguments(service.base), {
    timeout: 600_000,
    maxBuffer: 64 * 2 ** 20,
  }).catch((error: { code?: number; stdout?: string; stderr?: string }) => error)
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
  assert.ok(!('code' in result) || result.code === 0, `schemathesis failed:\n${output.slice(-6000)}`)
  assert.match(output, /(\d+) generated, \1 passed/, 'every generated case passed')
  const errorLines = service
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":50'))
  assert.deepEqual(errorLines, [], 'no error-level log line')
})
