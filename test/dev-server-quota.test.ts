import { once } from 'node:events'
import t from 'tap'
import { request } from 'undici'
import { servingDev, spawnDev } from './support/dev-command.js'

// ALMA_SIMULATOR_CALLS_PER_DAY: `npm run dev` with Alma's daily quota spent, to
// rehearse it: expired copies served, 503s for the rest, and the log lines an alarm catches.

t.test('with the daily quota spent, npm run dev serves expired copies, and 503s saying when to come back', async (t) => {
  const child = spawnDev(t, { PORT: '0', ALMA_SIMULATOR_LATENCY_MS: '0', ALMA_SIMULATOR_CALLS_PER_DAY: '0', LOG_LEVEL: 'info' })
  const { base, printed } = await servingDev(child)
  t.match(printed, 'refusing every call past 0 with 429 DAILY_THRESHOLD', 'it says so')
  let logged = ''
  child.stdout.on('data', (chunk: Buffer) => { logged += chunk.toString() })
  const expired = await request(`${base}/users/demo-expired`)
  t.equal(expired.statusCode, 200)
  t.equal(expired.headers['x-cache'], 'stale', 'the demo user whose cache records expired: the copies')
  await expired.body.dump()
  const uncached = await request(`${base}/users/demo-alma-only/loans`)
  t.equal(uncached.statusCode, 503, 'the demo user only in Alma: nothing to serve')
  const retryAfter = Number(uncached.headers['retry-after'])
  t.ok(retryAfter > 3500 && retryAfter <= 3600, `come back in an hour, as Alma gave no time (Retry-After: ${retryAfter})`)
  await uncached.body.dump()
  // Read once the process has closed its output: a line and an answer come by different pipes.
  child.kill('SIGTERM')
  await once(child, 'close')
  t.match(logged, /DAILY_THRESHOLD/, 'in the log lines, for the alarm of docs/operations.md')
})
