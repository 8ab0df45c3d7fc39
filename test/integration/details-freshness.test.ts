/**
 * Rule 5 as readers see it through the Redis cache: details that change through an event's group
 * or venue (not the event itself) show on every cached event of that group or venue as soon as
 * the batch that changed them is committed, not after the cache's TTL. The same test runs on the
 * ring (REDIS_RING) and on a Redis Cluster of its own (REDIS_CLUSTER), in one `serve` process and
 * in separate `ingest` and `api` processes: there the api's in-process details tier (in front of
 * Redis) learns what changed only from the ingest's batch notice.
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { backendForSuite, CACHE_BACKENDS } from '../support/cache-backends.ts'
import { get, metricValue, waitFor } from '../support/http.ts'
import { createIngestFixture, produce, startCommand } from '../support/ingest-harness.ts'
import { rsvpMessage } from '../support/rsvp-messages.ts'

for (const [name, open] of CACHE_BACKENDS) {
  describe(`details through the ${name}`, () => {
    const backend = backendForSuite(open)
    test('a group renamed by a message about one event shows renamed on every cached event of the group at once', (t) =>
      groupRenamedAtOnce(t, backend().env, 'serve'))
    test('the same with ingest and api in separate processes (the api hears of it through the batch notice)', (t) =>
      groupRenamedAtOnce(t, backend().env, 'ingest and api'))
  })
}

async function groupRenamedAtOnce(
  t: TestContext,
  redisEnv: Readonly<Record<string, string>>,
  processes: 'serve' | 'ingest and api',
): Promise<void> {
  const fixture = await createIngestFixture(t, 1)
  // No answer reuse: every answer is computed, its details read through the cache. The ring's TTL
  // and the api's tier's TTLs are long, so only invalidation can bring the new names.
  const env = { ...redisEnv, TOPK_CACHE_MS: '0', REDIS_TTL_SECONDS: '3600', DETAILS_LOCAL_TTL_SECONDS: '3600' }
  if (processes === 'ingest and api') await startCommand(fixture, 'ingest', env)
  const service = await startCommand(fixture, processes === 'serve' ? 'serve' : 'api', env)
  const event = async (id: string) => (await get(service.base, `/api/v1/events/${id}`)).body
  await produce(fixture, [
    rsvpMessage({ rsvpId: 1, eventId: 'E1', groupId: 7, groupName: 'Old', venueId: 9, venueName: 'Old Hall' }),
    rsvpMessage({ rsvpId: 2, eventId: 'E2', groupId: 7, groupName: 'Old', venueId: 9, venueName: 'Old Hall' }),
  ])
  await waitFor('both events', async () => ((await event('E2'))?.group?.name === 'Old' ? true : undefined))
  // Both are in the ring and in the api's own tier now, with group 7 and venue 9 as entries of their own.
  assert.equal((await event('E1')).group.name, 'Old')
  assert.equal((await event('E1')).venue.name, 'Old Hall')
  const lookups = await localLookups(service.base)
  assert.equal((await event('E1')).group.name, 'Old')
  assert.ok((await localLookups(service.base)) > lookups, 'E1 was answered from the in-process tier')

  // A newer message about E2 renames group 7 and venue 9; E1's own details do not change.
  await produce(fixture, [
    rsvpMessage({ rsvpId: 3, eventId: 'E2', groupId: 7, groupName: 'New', venueId: 9, venueName: 'New Hall' }),
  ])
  await waitFor('the rename committed', async () => ((await event('E2'))?.group?.name === 'New' ? true : undefined))
  const e1 = await event('E1')
  assert.equal(e1.group.name, 'New', 'E1 shows the new group name at once')
  assert.equal(e1.venue.name, 'New Hall', 'and the new venue name')
  const top = (await get(service.base, '/api/v1/events/topk?k=10')).body
  assert.deepEqual(
    top.events.map((e: { event_id: string; group: { name: string } }) => [e.event_id, e.group.name]),
    [
      ['E2', 'New'],
      ['E1', 'New'],
    ],
    'E2 (2 yes) then E1 (1 yes), both with the new name',
  )
}

/** rsvp_topk_cache_lookups_total{result} of the process at `base`. */
async function localLookups(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return metricValue(text, 'rsvp_topk_cache_lookups_total', 'result="local"') ?? 0
}
