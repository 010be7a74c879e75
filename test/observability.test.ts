import { createHmac } from 'node:crypto'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { AlmaTimeoutError } from '../src/errors.js'
import { CLIENT_CLOSED_REQUEST, userPseudonym } from '../src/plugins/observability.js'
import { metricsRecord } from '../src/observability/metrics.js'
import { newRequestCalls } from '../src/observability/request-calls.js'
import { loadConfig } from '../src/config.js'
import { buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// One summary log line per request, with the round trips counted where they
// are made: the DynamoDB client (SDK middleware) and the Alma client. The
// counts are the round-trip floors of the performance issue.

const stack = await startTestStack(t)
const { app, logs, rawLogs } = await buildTestApp(t)

const summaries = () => logs().filter((line) => line.msg === 'request summary')
// README "Logs and metrics": every summary line has each of these, null where there is nothing to say
// (t.match's null pattern alone would also pass a field left out).
const SUMMARY_FIELDS = ['route', 'user', 'status', 'cache', 'dynamoCalls', 'almaCalls', 'almaMs', 'queued', 'durationMs']
const missingFields = (line: Record<string, unknown> | undefined) => SUMMARY_FIELDS.filter((field) => line === undefined || !(field in line))
// The counts as JSON numbers, for log queries that compare them (t.match would take "2" for 2).
const COUNTS = ['status', 'dynamoCalls', 'almaCalls', 'almaMs', 'durationMs']
const typesOf = (line: Record<string, unknown> | undefined) => Object.fromEntries([...COUNTS, 'queued'].map((field) => [field, typeof line?.[field]]))
const pick = (line: Record<string, unknown>, fields: string[]) => Object.fromEntries(fields.map((field) => [field, line[field]]))
async function summaryOf (url: string): Promise<Record<string, unknown>> {
  const before = summaries().length
  await app.inject({ method: 'GET', url })
  const after = summaries()
  t.equal(after.length, before + 1, `${url}: one summary line`)
  t.strictSame(missingFields(after.at(-1)), [], `${url}: every summary field there, null where none applies`)
  t.strictSame(typesOf(after.at(-1)), { ...Object.fromEntries(COUNTS.map((field) => [field, 'number'])), queued: 'boolean' }, `${url}: counts as numbers, queued as a boolean`)
  return after.at(-1) as Record<string, unknown>
}

const cached = almaUserRecords('obs-cached', { loans: 30, requests: 10, fees: 5 })
stack.alma.addUser({ primary_id: 'obs-cached', ...cached })
await stack.writeCacheRows(cacheRowsOf('obs-cached', cached, nowSeconds() + DAY))

t.test('cached get-user: 2 DynamoDB round trips, no Alma call', async (t) => {
  const summary = await summaryOf('/users/OBS-cached')
  t.ok(Number.isInteger(summary.durationMs), `durationMs in whole milliseconds (${String(summary.durationMs)})`)
  t.match(summary, {
    route: '/users/:userID',
    user: userPseudonym('obs-cached'),
    status: 200,
    cache: 'hit',
    dynamoCalls: 2,
    almaCalls: 0,
    queued: false,
    durationMs: Number
  })
})

t.test('cached loans of 250: the user, then three batches', async (t) => {
  const many = almaUserRecords('obs-many', { loans: 250, requests: 0, fees: 0 })
  await stack.writeCacheRows(cacheRowsOf('obs-many', many, nowSeconds() + DAY))
  t.match(await summaryOf('/users/obs-many/loans'), { cache: 'hit', dynamoCalls: 4, almaCalls: 0 })
})

t.test('a cached loan: one BatchGetItem', async (t) => {
  t.match(await summaryOf(`/users/obs-cached/loans/${String(cached.loans[3]?.loan_id)}`), {
    route: '/users/:userID/loans/:loanID', cache: 'hit', dynamoCalls: 1, almaCalls: 0
  })
})

t.test('get-user not cached: one DynamoDB read, four Alma pages, queued', async (t) => {
  stack.alma.addUser({ primary_id: 'obs-uncached', ...almaUserRecords('obs-uncached', { loans: 145, requests: 23, fees: 4 }) })
  stack.alma.resetCalls()
  stack.alma.latencyMs = 25
  t.teardown(() => { stack.alma.latencyMs = 0 })
  const started = performance.now()
  const summary = await summaryOf('/users/obs-uncached')
  const tookMs = performance.now() - started
  t.match(summary, { cache: 'miss', dynamoCalls: 1, almaCalls: 4, queued: true })
  t.equal(stack.alma.calls.length, 4, 'as the simulator counted')
  t.ok((summary.almaMs as number) >= 4 * 25, `almaMs ${String(summary.almaMs)}: the four calls' time, added up`)
  // Each call timed to a fraction of a millisecond: the sum rounded once, as durationMs is.
  t.ok(Number.isInteger(summary.almaMs), `almaMs in whole milliseconds (${String(summary.almaMs)})`)
  // A list's first page, then its second: two rounds of 25 ms one after the other.
  t.ok((summary.durationMs as number) >= 2 * 25, `durationMs ${String(summary.durationMs)}: the time the request took`)
  t.ok((summary.durationMs as number) <= Math.ceil(tookMs), `durationMs ${String(summary.durationMs)}: in milliseconds, within the ${Math.ceil(tookMs)} ms the test waited`)
})

t.test('cached user, 5 of 12 loans expired or missing: one Alma list page', async (t) => {
  const twelve = almaUserRecords('obs-partial', { loans: 12, requests: 0, fees: 0 })
  stack.alma.addUser({ primary_id: 'obs-partial', ...twelve })
  const fresh = cacheRowsOf('obs-partial', twelve, nowSeconds() + DAY)
  const expired = cacheRowsOf('obs-partial', twelve, nowSeconds() - DAY)
  await stack.writeCacheRows({ user: fresh.user, loans: [...fresh.loans.slice(0, 7), ...expired.loans.slice(7, 10)] })
  t.match(await summaryOf('/users/obs-partial/loans'), { cache: 'partial', dynamoCalls: 2, almaCalls: 1, queued: false })
})

t.test('refused and unknown requests are summarised too', async (t) => {
  t.match(await summaryOf('/users/bad%20id/loans'), { route: '/users/:userID/loans', status: 400, cache: null, dynamoCalls: 0, almaCalls: 0 })
  const unknown = await summaryOf('/nowhere')
  t.match(unknown, { route: null, user: null, status: 404 })
  // t.match takes a missing field for null: every summary line has every field, null where there is none to say.
  t.strictSame([unknown.route, unknown.user, unknown.cache], [null, null, null], 'route, user and cache there, as null')
  // Refused by the router itself (a path that does not percent-decode, a parameter past its limit), before any hook.
  t.match(await summaryOf('/users/%E0%A4%A/loans'), { route: null, user: null, status: 400, dynamoCalls: 0, almaCalls: 0, queued: false })
  t.match(await summaryOf(`/users/${'a'.repeat(600)}/loans`), { route: null, user: null, status: 400 })
  // An empty segment names no identifier: no route, as the answer says, and no user (not the pseudonym of "").
  for (const url of ['/users/', '/users//loans', '/users/obs-cached/loans/']) {
    t.strictSame(pick(await summaryOf(url), ['route', 'user', 'status']), { route: null, user: null, status: 404 }, url)
  }
})

t.test('logged errors are typed by their name; what is not an error is logged as it is', async (t) => {
  const { app: logging, logs: logged } = await buildTestApp(t)
  logging.log.error({ err: new AlmaTimeoutError() }, 'an error')
  // As the SDK and undici name theirs, and as any class reads once minified: the constructor's name is not the error's.
  logging.log.error({ err: Object.assign(new Error('throttled'), { name: 'ThrottlingException' }) }, 'a named error')
  logging.log.error({ err: 'a string' }, 'a string')
  logging.log.error({ err: null }, 'nothing')
  // As undici fails a connection to every address of a host: the errors it holds (not enumerable) are logged too.
  logging.log.error({ err: new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })], 'connect failed') }, 'aggregate')
  t.match(logged().map((line) => [line.msg, line.err]), [
    ['an error', { type: 'AlmaTimeoutError', message: 'Alma did not answer in time', stack: String }],
    ['a named error', { type: 'ThrottlingException', message: 'throttled' }],
    ['a string', 'a string'],
    ['nothing', null],
    ['aggregate', { type: 'AggregateError', aggregateErrors: [{ type: 'Error', message: 'refused', code: 'ECONNREFUSED' }] }]
  ])
})

t.test('an AWS SDK error made from an answer it could not read is logged by its name and $metadata: its message quotes that body', async (t) => {
  const { app: logging, logs: logged } = await buildTestApp(t)
  // As the SDK makes them: a body it could not read ($response, hidden), quoted in the message.
  const unread = <E extends Error>(error: E) => Object.defineProperty(error, '$response', { value: { body: 'obs-peer-1' } })
  const withStatus = <E extends Error>(error: E) => Object.assign(error, { $metadata: { httpStatusCode: 502, requestId: 'R1' } })
  const unreadable = unread(withStatus(new SyntaxError('Unexpected token \'<\', "<html>obs-peer-1"... is not valid JSON')))
  // Its message changed after its stack was taken (the SDK appends a hint to a deserialization error's); no status.
  const rewritten = unread(Object.assign(new Error('first words'), { name: 'InternalError', $fault: 'server' }))
  rewritten.message = 'then obs-peer-1'
  const cause = Object.assign(new Error('ours'), { cause: unread(withStatus(new SyntaxError('obs-peer-1'))), detail: 'kept' })
  // A service's own error keeps its words: they say what failed, and carry no caller's data.
  const serviceError = Object.assign(new Error('not authorized to perform dynamodb:BatchGetItem'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } })
  const looping: Error = new Error('loops')
  looping.cause = looping
  logging.log.error({ err: cause }, 'ours, caused by an unread answer')
  logging.log.error({ err: unreadable }, 'unreadable')
  logging.log.error({ err: rewritten }, 'rewritten')
  logging.log.error({ err: serviceError }, 'refused')
  logging.log.error({ err: looping }, 'looping')
  t.match(logged().map((line) => line.err), [
    { type: 'Error', message: 'ours: answered with status 502', detail: 'kept', stack: /^Error: ours\n[^]*caused by: SyntaxError: answered with status 502\n\s+at / },
    { type: 'SyntaxError', message: 'answered with status 502', stack: /^SyntaxError: answered with status 502\n\s+at /, $metadata: { httpStatusCode: 502, requestId: 'R1' } },
    { type: 'InternalError', $fault: 'server', message: 'answered with status unknown', stack: 'InternalError: answered with status unknown' },
    { type: 'AccessDeniedException', message: 'not authorized to perform dynamodb:BatchGetItem', $fault: 'client' },
    { type: 'Error', message: /^loops/ }
  ])
  t.notMatch(JSON.stringify(logged()), /obs-peer-1|first words/, 'nothing of the unread body')
})

t.test('on the HTTP server a caller cannot choose the request ID the logs show', async (t) => {
  const before = summaries().length
  await app.inject({ method: 'GET', url: '/users/obs-cached/fees', headers: { 'x-request-id': 'forged-id', 'request-id': 'forged-id' } })
  const summary = summaries()[before]
  t.type(summary?.reqId, 'string')
  t.not(summary?.reqId, 'forged-id')
})

t.test('no raw user ID in any log line', async (t) => {
  t.match(await summaryOf('/users/obs-cached/fees/nosuchfee1'), { status: 404 })
  t.notMatch(rawLogs(), /obs-cached|OBS-cached|obs-uncached|obs-partial/)
})

t.test('one CloudWatch EMF record per request, the route as the dimension', async (t) => {
  const lines: string[] = []
  const { app: measured } = await buildTestApp(t, { writeMetrics: (line) => { lines.push(line) } })
  stack.alma.addUser({ primary_id: 'obs-emf', ...almaUserRecords('obs-emf', { loans: 1, requests: 0, fees: 0 }) })
  stack.alma.injectFaults(3, { status: 500 })
  for (const url of ['/users/obs-cached', '/users/obs-emf/loans', '/users/obs-emf/loans', '/users/bad%20id', '/nowhere', '/users/%E0%A4%A']) {
    await measured.inject({ method: 'GET', url })
  }
  t.ok(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n')), 'one line each')
  const records = lines.map((line) => JSON.parse(line) as Record<string, any>)
  t.equal(records.length, 6)
  const [hit, failed, miss, refused, unrouted, malformed] = records
  t.match(hit, {
    _aws: { Timestamp: Number, CloudWatchMetrics: [{ Namespace: 'AlmaCacheApi', Dimensions: [['route']] }] },
    route: '/users/:userID',
    CacheHit: 1,
    CacheMiss: 0,
    AlmaCalls: 0,
    DynamoDBCalls: 2,
    QueueSends: 0,
    ClientErrors: 0,
    ServerErrors: 0,
    status: '200'
  })
  t.notOk('AlmaLatency' in (hit ?? {}) || 'Errors' in (hit ?? {}), 'no Alma latency without an Alma call, no error count without an error')
  // EMF: every metric declared has a number, or a list of at most 100 numbers; every dimension a string.
  for (const record of records) {
    for (const { Dimensions, Metrics } of record._aws.CloudWatchMetrics as Array<{ Dimensions: string[][], Metrics: Array<{ Name: string }> }>) {
      t.ok(Metrics.every(({ Name }) => typeof record[Name] === 'number' || (Array.isArray(record[Name]) && record[Name].length <= 100 && record[Name].every((v: unknown) => typeof v === 'number'))), `${record.route} ${record.status}: every declared metric has values`)
      t.ok(Dimensions.flat().every((name) => typeof record[name] === 'string'), `${record.route} ${record.status}: dimensions are strings`)
    }
  }
  t.match(failed, { route: '/users/:userID/loans', ServerErrors: 1, Errors: 1, AlmaCalls: 3, QueueSends: 1, status: '502' })
  t.equal(failed?.AlmaLatency.length, 3, 'one latency per Alma round trip, retries included')
  t.ok(failed?.Latency >= (failed?.AlmaLatency as number[]).reduce((sum, ms) => sum + ms, 0) - 3, `Latency ${String(failed?.Latency)} ms: the request's time, its three calls one after the other included`)
  t.match(failed?._aws.CloudWatchMetrics[1], { Dimensions: [['route', 'status']], Metrics: [{ Name: 'Errors', Unit: 'Count' }] }, 'errors by route and status')
  t.match(miss, { CacheMiss: 1, AlmaCalls: 1, AlmaLatency: [Number], QueueSends: 1, status: '200' })
  t.equal(miss?._aws.CloudWatchMetrics.length, 1, 'no error directive for a 200')
  t.match(refused, { ClientErrors: 1, Errors: 1, DynamoDBCalls: 0, status: '400' })
  t.match(unrouted, { route: 'none', Errors: 1, status: '404' })
  t.match(malformed, { route: 'none', ClientErrors: 1, status: '400' })
})

t.test('an EMF record: each cache outcome counted under its own name, latencies rounded, at most 100 Alma latencies', async (t) => {
  const record = (cache: string | undefined, almaCallMs: number[] = [], durationMs = 12.6) =>
    metricsRecord({ route: '/users/:userID', status: 200, cache, calls: { ...newRequestCalls(), alma: almaCallMs.length, almaCallMs }, durationMs, namespace: 'AlmaCacheApi/prod' })
  const outcomes = (answer: Record<string, unknown>) => [answer.CacheHit, answer.CachePartial, answer.CacheMiss, answer.CacheStale]
  t.same(outcomes(record('hit')), [1, 0, 0, 0])
  t.same(outcomes(record('partial')), [0, 1, 0, 0])
  t.same(outcomes(record('miss')), [0, 0, 1, 0])
  t.same(outcomes(record('stale')), [0, 0, 0, 1], 'stale answers: how an Alma outage shows')
  t.same(outcomes(record(undefined)), [0, 0, 0, 0])
  t.equal(record('hit').Latency, 13)
  const units = Object.fromEntries((record('miss', [3])._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string, Unit: string }> }> }).CloudWatchMetrics[0]?.Metrics.map(({ Name, Unit }) => [Name, Unit]) ?? [])
  // t.strictSame: a metric left undeclared is a value in the line that CloudWatch never makes a metric of.
  const counts = ['CacheHit', 'CachePartial', 'CacheMiss', 'CacheStale', 'AlmaCalls', 'DynamoDBCalls', 'QueueSends', 'ClientErrors', 'ServerErrors']
  t.strictSame(units, { ...Object.fromEntries(counts.map((name) => [name, 'Count'])), Latency: 'Milliseconds', AlmaLatency: 'Milliseconds' }, 'every metric declared, its unit as the values are')
  t.equal((metricsRecord({ route: undefined, status: 200, cache: 'hit', calls: newRequestCalls(), durationMs: 1, namespace: 'N' }, 1_700_000_000_123)._aws as { Timestamp: number }).Timestamp, 1_700_000_000_123, 'EMF timestamps are epoch milliseconds')
  const byStatus = (status: number) => metricsRecord({ route: undefined, status, cache: undefined, calls: newRequestCalls(), durationMs: 1, namespace: 'N' })
  t.match(byStatus(499), { ClientErrors: 1, ServerErrors: 0, Errors: 1 })
  t.match(byStatus(500), { ClientErrors: 0, ServerErrors: 1, Errors: 1 }, 'a 500, a bug: a server error, not a client one')
  t.same((record('hit')._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics.map((directive) => directive.Namespace), ['AlmaCacheApi/prod'], 'the namespace given (METRICS_NAMESPACE: one per stage)')
  const many = record('miss', Array.from({ length: 150 }, (_, index) => index + 0.4))
  t.equal(many.AlmaCalls, 150)
  t.same(many.AlmaLatency, Array.from({ length: 100 }, (_, index) => index), 'EMF takes 100 values of a metric at most')
})

t.test('EMF: each metric also for the service as a whole, and Errors by status alone (no alarm can sum the routes with SEARCH)', async (t) => {
  const directives = (status: number) => (metricsRecord({ route: '/users/:userID', status, cache: status === 200 ? 'hit' : undefined, calls: newRequestCalls(), durationMs: 1, namespace: 'N' })._aws as { CloudWatchMetrics: Array<{ Namespace: string, Dimensions: string[][], Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics
  // t.strictSame, not t.match: t.match would take [['route']] for [['route'], []].
  t.strictSame(directives(200).map(({ Dimensions }) => Dimensions), [[['route'], []]], 'a 200: by route, and without dimensions')
  t.strictSame(directives(502).map(({ Dimensions }) => Dimensions), [[['route'], []], [['route', 'status'], ['status']]], 'a 502: Errors by route and status, and by status alone')
  t.strictSame(directives(502)[1]?.Metrics.map(({ Name }) => Name), ['Errors'])
  t.strictSame(directives(502).map(({ Namespace }) => Namespace), ['N', 'N'], 'Errors in the namespace given too, where the stage\'s alarms look')
})

t.test('a client that hangs up before the answer: still one summary line and one metrics record', async (t) => {
  const lines: string[] = []
  const { app: served, logs: servedLogs } = await buildTestApp(t, { writeMetrics: (line) => { lines.push(line) } })
  await served.listen({ port: 0, host: '127.0.0.1' })
  stack.alma.addUser({ primary_id: 'obs-abort', ...almaUserRecords('obs-abort', { loans: 1, requests: 0, fees: 0 }) })
  stack.alma.hang(1)
  const queuedBefore = (await stack.queuedUserIDs()).length
  const socket = connect((served.server.address() as { port: number }).port, '127.0.0.1')
  socket.write('GET /users/obs-abort/loans HTTP/1.1\r\nHost: localhost\r\n\r\n')
  socket.on('error', () => {})
  // Once the request waits on Alma, the client gives up.
  while (!stack.alma.calls.some((call) => call.path.includes('/obs-abort/'))) await sleep(10)
  await sleep(150)
  socket.destroy()
  const recordedLines = () => servedLogs().filter((line) => line.msg === 'request summary')
  for (let waited = 0; recordedLines().length === 0 && waited < 5000; waited += 20) await sleep(20)
  await sleep(200)
  t.match(recordedLines(), [{ route: '/users/:userID/loans', status: CLIENT_CLOSED_REQUEST, user: userPseudonym('obs-abort'), dynamoCalls: 1, cache: null }], 'one line, as 499, with no cache outcome')
  t.strictSame(missingFields(recordedLines()[0]), [], 'every summary field there, cache as null')
  t.ok(Number(recordedLines()[0]?.durationMs) >= 150, `timed until the client left (${String(recordedLines()[0]?.durationMs)} ms)`)
  t.equal(lines.length, 1, 'one metrics record')
  const record = JSON.parse(lines[0] as string)
  t.match(record, { status: '499', ClientErrors: 1, Errors: 1, CacheHit: 0, CachePartial: 0, CacheMiss: 0, CacheStale: 0 })
  t.ok(record.Latency >= 150, 'its latency too')
  // The work goes on without the client: the user still gets queued.
  for (let waited = 0; (await stack.queuedUserIDs()).length === queuedBefore && waited < 5000; waited += 20) await sleep(20)
  t.equal((await stack.queuedUserIDs()).length, queuedBefore + 1)
})

t.test('with LOG_PSEUDONYM_KEY the pseudonym is keyed: no hashing of candidate IDs finds the user', async (t) => {
  const key = 'pseudonyms-of-test-0001'
  const { app: keyed, logs: keyedLogs } = await buildTestApp(t, { config: { ...loadConfig(), logPseudonymKey: key } })
  await keyed.inject({ method: 'GET', url: '/users/OBS-cached/fees' })
  await keyed.inject({ method: 'GET', url: '/users/obs-cached/fees/nosuchfee2' })
  const users = keyedLogs().filter((line) => line.msg === 'request summary').map((line) => line.user)
  const expected = createHmac('sha256', key).update('obs-cached').digest('hex').slice(0, 16)
  t.same(users, [expected, expected], 'the HMAC of the lowercased ID, the same for each request of the user')
  t.not(expected, userPseudonym('obs-cached'), 'not the unkeyed hash')
  // Folded as cache keys are, A to Z only: toLowerCase would make the Kelvin sign a k.
  await keyed.inject({ method: 'GET', url: '/users/%E2%84%AAate/fees' })
  const refused = keyedLogs().filter((line) => line.msg === 'request summary').at(-1)
  t.match(refused, { status: 400 })
  t.not(refused?.user, userPseudonym('kate', key), 'a refused \u212Aate is not logged as kate')
})

t.test('an answer over the transport\'s limit (a Lambda\'s): an error line, and a 502 in the summary and the metrics', async (t) => {
  const lines: string[] = []
  // Limits count the body as a JSON string: 20 fees are about 12 KB of body, escaped to about 14 KB.
  const limited = async (maxAnswerBytes: number) => buildTestApp(t, { maxAnswerBytes, writeMetrics: (line) => { lines.push(line) } })
  const { app: small, logs: smallLogs } = await limited(13_000)
  const records = almaUserRecords('obs-large', { loans: 0, requests: 0, fees: 20 })
  await stack.writeCacheRows(cacheRowsOf('obs-large', records, nowSeconds() + DAY))
  const response = await small.inject({ method: 'GET', url: '/users/obs-large/fees' })
  t.equal(response.statusCode, 502)
  t.strictSame(response.json(), { statusCode: 502, error: 'Bad Gateway', message: 'The answer is larger than the API can send' })
  t.equal(response.headers['x-cache'], undefined, 'no X-Cache: the 200 it describes was not sent')
  t.match(smallLogs().filter((line) => line.level === 50), [{
    msg: 'request failed', err: { type: 'AnswerTooLargeError', statusCode: 502 }, detail: /^the answer is \d{5} bytes as sent; at most 13000 can be$/
  }])
  t.equal(smallLogs().filter((line) => line.level === 50).length, 1, 'one error line (t.match above would take more)')
  t.match(smallLogs().filter((line) => line.msg === 'request summary'), [{ status: 502, cache: null, dynamoCalls: 2 }])
  t.strictSame(missingFields(smallLogs().find((line) => line.msg === 'request summary')), [], 'every summary field there, cache as null')
  t.match(JSON.parse(lines.at(-1) as string), { status: '502', ServerErrors: 1 })
  // The same answer, escaped, under a larger limit: sent.
  const { app: large } = await limited(16_000)
  const sent = await large.inject({ method: 'GET', url: '/users/obs-large/fees' })
  t.equal(sent.statusCode, 200)
  t.ok(Buffer.byteLength(JSON.stringify(sent.body)) > 13_000 && Buffer.byteLength(JSON.stringify(sent.body)) < 16_000, 'between the two limits')
  t.equal(sent.headers['x-cache'], 'hit')
  // The limit is the largest answer sent: exactly at it, sent; a byte over, refused.
  const bytes = Buffer.byteLength(JSON.stringify(sent.body))
  const { app: exact } = await limited(bytes)
  t.equal((await exact.inject({ method: 'GET', url: '/users/obs-large/fees' })).body, sent.body, 'an answer of exactly the limit: sent')
  const { app: byteShort } = await limited(bytes - 1)
  t.equal((await byteShort.inject({ method: 'GET', url: '/users/obs-large/fees' })).statusCode, 502, 'one byte over: refused')
})

t.test('at debug level, a line for each round trip: what it asked and how it went, without identifiers', async (t) => {
  const records = almaUserRecords('Obs-Debug-7', { loans: 2, requests: 0, fees: 1 })
  stack.alma.addUser({ primary_id: 'Obs-Debug-7', ...records })
  await stack.writeCacheRows(cacheRowsOf('Obs-Debug-7', records, nowSeconds() - DAY))
  const debugLines = async (url: string) => {
    const before = logs().length
    await app.inject({ method: 'GET', url })
    // The queue send runs alongside the reads: the lines come in the order the calls end.
    return logs().slice(before).filter((line) => line.level === 20).sort((a, b) => String(a.msg).localeCompare(String(b.msg)))
  }
  // Alma answering in 25 ms: its line's ms is the round trip's time, not a placeholder.
  stack.alma.latencyMs = 25
  t.teardown(() => { stack.alma.latencyMs = 0 })
  const list = await debugLines('/users/Obs-Debug-7/loans')
  t.match(list, [
    { msg: 'Alma call', alma: { path: '/users/{userID}/loans', offset: '0', limit: '100', expand: 'renewable', status: 200, ms: Number } },
    { msg: 'DynamoDB call', dynamo: { command: 'GetItemCommand', status: 200, ms: Number } },
    { msg: 'SQS send', sqs: { sent: true, ms: Number } }
  ])
  t.equal(list.length, 3, 'one line a round trip')
  const almaMs = (list[0]?.alma as { ms?: number } | undefined)?.ms
  t.ok(Number(almaMs) >= 20, `the Alma call timed: ${String(almaMs)} ms, with Alma answering in 25`)
  const item = await debugLines(`/users/Obs-Debug-7/fees/${String(records.fees[0]?.id)}`)
  t.match(item, [
    { msg: 'Alma call', alma: { path: '/users/{userID}/fees/{id}', status: 200 } },
    { msg: 'DynamoDB call', dynamo: { command: 'BatchGetItemCommand', status: 200 } },
    { msg: 'SQS send', sqs: { sent: true } }
  ])
  t.equal(item.length, 3)
  const rounds = [...list, ...item].map((line) => (line.alma ?? line.dynamo ?? line.sqs) as { ms: unknown })
  t.ok(rounds.every((round) => Number.isInteger(round.ms)), 'each timed in whole milliseconds')
  const text = JSON.stringify([...list, ...item])
  t.notMatch(text, /obs-debug-7/i, 'no user ID')
  t.notMatch(text, String(records.fees[0]?.id), 'no item ID')
})
