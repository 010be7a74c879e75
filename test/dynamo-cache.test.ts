import t, { type Test } from 'tap'
import { getEventListeners } from 'node:events'
import type { Socket } from 'node:net'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { CacheReadError, DynamoCache, type DynamoCacheOptions } from '../src/clients/dynamo-cache.js'
import { withinBounds } from '../src/clients/aws-requests.js'
import { NumberValue } from '@aws-sdk/lib-dynamodb'
import { countingCalls, newRequestCalls } from '../src/observability/request-calls.js'
import { startFaultyProxy, type Span } from '../dev/peer-proxy.js'
import { DAY, nowSeconds, startTestStack } from './helper.js'
import { holdRandomAt } from './support/hold-random.js'
import { closesWithin, emptyAwsAnswer, keptAlivePeer } from './support/sockets.js'

// The cache reader against dynalite: batching past 100 keys, and the keys a
// BatchGetItem leaves unprocessed when its answer would be too large.

const stack = await startTestStack(t)
const records = almaUserRecords('dynamo-1', { loans: 250, requests: 0, fees: 0 })
const rows = cacheRowsOf('dynamo-1', records, nowSeconds() + DAY)
await stack.writeCacheRows(rows)

// DynamoDB stops a BatchGetItem answer at 16 MB and returns the rest as
// UnprocessedKeys; dynalite does the same at about 1.4 MB. Enough 350 KB rows
// to need two rounds on whichever one this run is against.
const answerLimit = process.env.TEST_DYNAMODB_ENDPOINT === undefined ? 1.4e6 : 16 * 1024 * 1024
const ROW_BYTES = 350_000
const bulky = almaUserRecords('dynamo-bulky', { loans: Math.ceil(1.5 * answerLimit / ROW_BYTES), requests: 0, fees: 0 })
const bulkyRows = cacheRowsOf('dynamo-bulky', bulky, nowSeconds() + DAY)
await stack.writeCacheRows({ loans: bulkyRows.loans.map((row) => ({ ...row, description: 'x'.repeat(ROW_BYTES) })) })
const bulkyKeys = bulkyRows.loans.map((row) => ({ table: 'loans' as const, id: String(row.loan_id) }))

t.test('more than 100 keys, repeated keys read once', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const keys = rows.loans.map((row) => ({ table: 'loans' as const, id: String(row.loan_id) }))
  const calls = newRequestCalls()
  // The repeated keys next to their first copies, in one batch: DynamoDB refuses a batch that names a key twice.
  const read = await countingCalls(calls, () => cache.getRows([...keys.slice(0, 10), ...keys, { table: 'users', id: 'dynamo-1' }, { table: 'fees', id: 'absent' }]))
  t.equal(calls.dynamo, 3, '252 keys: three BatchGetItem calls of at most 100')
  t.equal(read.get('loans')?.size, 250)
  t.same(read.get('loans')?.get(keys[0]?.id as string), rows.loans[0])
  t.equal(read.get('users')?.get('dynamo-1') !== undefined, true)
  t.equal(read.get('fees')?.get('absent'), undefined)
})

t.test('the same ID in two tables: two keys, each table\'s row read', async (t) => {
  // Alma's loan and request IDs are numbers of their own: one may well be the other's.
  const loanID = String(rows.loans[1]?.loan_id)
  const [request] = cacheRowsOf('dynamo-1', almaUserRecords('dynamo-1', { loans: 0, requests: 1, fees: 0 }), nowSeconds() + DAY).requests
  await stack.writeCacheRows({ requests: [{ ...request, request_id: loanID }] })
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const read = await cache.getRows([{ table: 'loans', id: loanID }, { table: 'requests', id: loanID }])
  t.same(read.get('loans')?.get(loanID), rows.loans[1])
  t.same(read.get('requests')?.get(loanID), { ...request, request_id: loanID })
})

t.test('unprocessed keys are asked for again', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const read = await cache.getRows(bulkyKeys)
  t.equal(read.get('loans')?.size, bulky.loans.length, 'every row, over several rounds')
})

t.test('keys still unprocessed after the retry budget fail the read', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables, unprocessedRetries: 0 })
  t.teardown(() => cache.destroy())
  await t.rejects(cache.getRows(bulkyKeys), { name: 'CacheReadError', message: `BatchGetItem on ${stack.tables.loans} (Error)`, cause: { message: 'Keys left unprocessed after 1 rounds' } })
})

t.test('a failed read names its operation and tables: a wrong table name reads as one', async (t) => {
  const cache = new DynamoCache({ tables: { ...stack.tables, users: 'no-such-users' } })
  t.teardown(() => cache.destroy())
  await t.rejects(cache.getUser('dynamo-1'), { name: 'CacheReadError', message: 'GetItem on no-such-users (ResourceNotFoundException)', $metadata: { httpStatusCode: 400, attempts: 1 } })
  t.equal(new CacheReadError('GetItem', ['users'], 'not an Error').message, 'GetItem on users (not an Error)', 'whatever was thrown')
})

t.test('a failed batch fails the read: the others are called off, and none goes on after it', async (t) => {
  // The first batch names a table that does not exist and fails at once; the second
  // (the bulky rows) would take several rounds.
  const cache = new DynamoCache({ tables: { ...stack.tables, fees: 'no-such-table' } })
  t.teardown(() => cache.destroy())
  const missingTable = Array.from({ length: 100 }, (_, index) => ({ table: 'fees' as const, id: `absent-${index}` }))
  const calls = newRequestCalls()
  await t.rejects(countingCalls(calls, () => cache.getRows([...missingTable, ...bulkyKeys])), { message: 'BatchGetItem on no-such-table (ResourceNotFoundException)' })
  const atFailure = calls.dynamo
  t.ok(atFailure <= 2, `the bulky batch called off in its first round (${atFailure} calls)`)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(calls.dynamo, atFailure, 'and no call started after it')
})

t.test('a read of many batches against a slow DynamoDB: over within one time limit, the waiting batches never sent', async (t) => {
  const slow = await startFaultyProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB as string)
  t.teardown(() => slow.close())
  // Each batch answered 200 ms late, well within its own limit (1 s).
  slow.failAll({ lateMs: 200 })
  const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB
  process.env.AWS_ENDPOINT_URL_DYNAMODB = slow.url
  t.teardown(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = saved })
  const cache = new DynamoCache({ tables: stack.tables, maxAttempts: 1, connectionTimeoutMs: 100, requestTimeoutMs: 1000 })
  t.teardown(() => cache.destroy())
  const keys = Array.from({ length: 20_000 }, (_, index) => ({ table: 'loans' as const, id: `slow-${index}` }))
  const calls = newRequestCalls()
  const started = Date.now()
  const error = await countingCalls(calls, () => cache.getRows(keys)).catch((caught: unknown) => caught)
  const elapsed = Date.now() - started
  t.match(error, { name: 'CacheReadError', cause: { message: 'No answer within 1100 ms' } })
  t.equal((error as Error).message, `BatchGetItem on ${stack.tables.loans} (Error)`, 'naming the table read, not all four')
  // 200 batches, 16 at a time, 200 ms each at least: 2.6 s without the read's own limit.
  t.ok(elapsed < 2000, `failed after ${elapsed} ms, at the read's limit (1100 ms)`)
  t.ok(slow.requests < 200, `${slow.requests} batches sent, not all 200`)
  t.ok(calls.dynamo < 200, `${calls.dynamo} round trips counted, not all 200 (none begun for the waiting batches)`)
})

/** A DynamoCache reading dynalite through a proxy that can answer in its place. */
async function throughProxy (t: Test, options: Partial<DynamoCacheOptions> = {}) {
  const proxy = await startFaultyProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB as string)
  t.teardown(() => proxy.close())
  const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.url
  t.teardown(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = saved })
  const cache = new DynamoCache({ tables: stack.tables, ...options })
  t.teardown(() => cache.destroy())
  return { proxy, cache }
}

const loanKey = { table: 'loans' as const, id: String(rows.loans[0]?.loan_id) }
/** BatchGetItem's answer when DynamoDB (throttled) processed none of the keys: the loan's key left for another round. */
const unprocessedLoan = JSON.stringify({ Responses: {}, UnprocessedKeys: { [stack.tables.loans]: { Keys: [{ loan_id: { S: loanKey.id } }] } } })
const awsError = (type: string, message: string) => ({ status: 400, body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }) })

t.test('unprocessed keys are asked for again after a growing, jittered pause, not at once', async (t) => {
  const { proxy, cache } = await throughProxy(t)
  // Twice, DynamoDB (as when throttled) processes none of the keys.
  proxy.failNext(2, { status: 200, body: unprocessedLoan })
  // The jitter at its top: pauses of up to 100 and 200 ms.
  holdRandomAt(t, 0.999)
  const read = await cache.getRows([loanKey])
  t.same(read.get('loans')?.get(loanKey.id), rows.loans[0])
  const [first, second, third] = proxy.spans.map((span) => span.startedAt) as [number, number, number]
  t.equal(proxy.spans.length, 3)
  t.ok(second - first >= 90, `the second round ${Math.round(second - first)} ms after the first`)
  t.ok(third - second >= 190, `the third ${Math.round(third - second)} ms after the second`)
})

t.test('the pauses between those rounds are drawn at random, down to none: not their full length', async (t) => {
  const { proxy, cache } = await throughProxy(t, { unprocessedRetries: 5 })
  // Five rounds left unprocessed: their full pauses would add up to 100 + 200 + 400 + 800 + 1600 ms.
  proxy.failNext(5, { status: 200, body: unprocessedLoan })
  holdRandomAt(t, 0)
  const started = performance.now()
  const read = await cache.getRows([loanKey])
  const tookMs = performance.now() - started
  t.same(read.get('loans')?.get(loanKey.id), rows.loans[0])
  t.equal(proxy.spans.length, 6)
  t.ok(tookMs < 1500, `six rounds in ${Math.round(tookMs)} ms, not the 3.1 s of the full pauses`)
})

t.test('every round trip is counted, retries included', async (t) => {
  const { proxy, cache } = await throughProxy(t)
  proxy.failNext(1, awsError('ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.'))
  const calls = newRequestCalls()
  const read = await countingCalls(calls, () => cache.getRows([loanKey]))
  t.equal(read.get('loans')?.size, 1, 'throttled, then answered')
  t.equal(calls.dynamo, 2)
})

t.test('a failed batch calls off a batch still waiting for its answer', async (t) => {
  const { proxy, cache } = await throughProxy(t, { maxAttempts: 1, requestTimeoutMs: 3000 })
  // The first batch to arrive fails at once; the other is never answered.
  proxy.failAll({ hang: true })
  proxy.failNext(1, awsError('ResourceNotFoundException', 'Requested resource not found'))
  const keys = [...Array.from({ length: 100 }, (_, index) => ({ table: 'fees' as const, id: `absent-${index}` })), loanKey]
  const started = Date.now()
  await t.rejects(cache.getRows(keys), { name: 'CacheReadError', message: /ResourceNotFoundException/ })
  t.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms, not at the unanswered batch's own time limit (3 s)`)
})

t.test('a number no JavaScript number holds exactly, in one row, is read as JSON would read it: the other rows stand', async (t) => {
  const [odd] = cacheRowsOf('dynamo-odd', almaUserRecords('dynamo-odd', { loans: 1, requests: 0, fees: 0 }), nowSeconds() + DAY).loans
  // (Written as DynamoDB holds it: the writer's own client refuses the JavaScript number.)
  await stack.writeCacheRows({ loans: [{ ...odd, publication_year: NumberValue.from('1E+30') }] })
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const read = await cache.getRows([loanKey, { table: 'loans', id: String(odd?.loan_id) }])
  t.same(read.get('loans')?.get(loanKey.id), rows.loans[0])
  t.equal((read.get('loans')?.get(String(odd?.loan_id)) as { publication_year: unknown }).publication_year, 1e30)
})

t.test('withinBounds leaves no timer running once its send is over', async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
  const before = timers()
  const bounds = { maxAttempts: 2, connectionTimeout: 500, requestTimeout: 1500 }
  t.equal(await withinBounds(bounds, async () => 'sent'), 'sent')
  await t.rejects(withinBounds(bounds, async () => { throw new Error('failed') }), /failed/)
  t.equal(timers(), before, 'none of 3.5 s per AWS call left behind')
})

t.test('the batches of one read are sent side by side, within the read\'s one time limit', async (t) => {
  const { proxy, cache } = await throughProxy(t, { maxAttempts: 1, connectionTimeoutMs: 100, requestTimeoutMs: 1000 })
  proxy.failAll({ lateMs: 200 })
  // 1,000 keys: ten batches, each answered 200 ms late. One after another they would
  // take 2 s, past the read's limit (1.1 s), and the read would fail.
  const keys = Array.from({ length: 1000 }, (_, index) => ({ table: 'loans' as const, id: `parallel-${index}` }))
  const read = await cache.getRows(keys)
  t.equal(read.get('loans')?.size ?? 0, 0, 'none of them cached')
  t.equal(proxy.requests, 10)
  const [first] = [...proxy.spans].sort((a, b) => a.endedAt - b.endedAt)
  t.ok(proxy.spans.filter((span) => span.startedAt < (first as Span).endedAt).length > 1, 'another batch sent before the first was answered')
})

t.test('getRows leaves no timer running once its read is over', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
  await cache.getRows([loanKey])
  const before = timers()
  await cache.getRows([loanKey, { table: 'fees', id: 'absent' }])
  t.equal(timers(), before, 'not the read\'s 3.5 s limit left behind')
})

t.test('getRows with a signal aborted already: called off before any batch is sent, not read whole', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const calls = newRequestCalls()
  await t.rejects(countingCalls(calls, () => cache.getRows([loanKey], AbortSignal.abort())), { name: 'CacheReadError', cause: { message: 'Called off' } })
  t.equal(calls.dynamo, 0, 'no BatchGetItem sent')
})

t.test('getRows called off while its batch waits for an answer: over at once, not at the batch\'s time limit', async (t) => {
  const { proxy, cache } = await throughProxy(t, { maxAttempts: 1, requestTimeoutMs: 3000 })
  proxy.failAll({ hang: true })
  const caller = new AbortController()
  setTimeout(() => { caller.abort() }, 100)
  const started = Date.now()
  await t.rejects(cache.getRows([loanKey], caller.signal), { name: 'CacheReadError', cause: { message: 'Called off' } })
  t.ok(Date.now() - started < 1500, `called off after ${Date.now() - started} ms, not at the unanswered batch's own time limit (3 s)`)
})

t.test('getRows leaves no listener on the caller\'s signal once its read is over', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const caller = new AbortController()
  await cache.getRows([loanKey], caller.signal)
  t.equal(getEventListeners(caller.signal, 'abort').length, 0, 'a long-lived signal gathers none, read after read')
})

t.test('getRows called off during its pause before unprocessed keys are asked for again: over at once, not after the pause', async (t) => {
  const { proxy, cache } = await throughProxy(t, { unprocessedRetries: 6 })
  proxy.failNext(7, { status: 200, body: unprocessedLoan })
  // The jitter at its top: the pause after the fifth round is 1.6 s.
  holdRandomAt(t, 0.999)
  const caller = new AbortController()
  let calledOffAt = Number.NaN
  const watch = setInterval(() => {
    if (Number.isFinite(proxy.spans[4]?.endedAt)) {
      clearInterval(watch)
      calledOffAt = Date.now()
      caller.abort()
    }
  }, 5)
  t.teardown(() => { clearInterval(watch) })
  await t.rejects(cache.getRows([loanKey], caller.signal), { name: 'CacheReadError', cause: { message: 'Called off' } })
  t.equal(proxy.spans.length, 5, 'no sixth round asked for')
  t.ok(Date.now() - calledOffAt < 800, `over ${Date.now() - calledOffAt} ms after it was called off, not at the end of the pause`)
})

t.test('by default, keys left unprocessed are asked for again in three more rounds', async (t) => {
  const { proxy, cache } = await throughProxy(t)
  proxy.failNext(3, { status: 200, body: unprocessedLoan })
  holdRandomAt(t, 0)
  const read = await cache.getRows([loanKey])
  t.same(read.get('loans')?.get(loanKey.id), rows.loans[0], 'read in the fourth round')
  t.equal(proxy.spans.length, 4)
})

t.test('destroy closes the client\'s kept-alive connection', async (t) => {
  const peer = await keptAlivePeer(t, emptyAwsAnswer)
  const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB
  process.env.AWS_ENDPOINT_URL_DYNAMODB = peer.url
  t.teardown(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = saved })
  const cache = new DynamoCache({ tables: stack.tables })
  const opened = new Promise<Socket>((resolve) => peer.server.once('connection', resolve))
  t.equal(await cache.getUser('dynamo-destroy'), undefined)
  const socket = await opened
  const closed = closesWithin(socket, 10_000)
  cache.destroy()
  t.ok(await closed, 'the connection was closed')
})

t.test('each round trip\'s debug line says how it went: a failed one its error, not a status', async (t) => {
  const { proxy, cache } = await throughProxy(t)
  proxy.failNext(1, awsError('ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.'))
  const lines: Array<Record<string, unknown>> = []
  const calls = { ...newRequestCalls(), debug: (fields: Record<string, unknown>) => { lines.push(fields) } }
  await countingCalls(calls, () => cache.getRows([loanKey]))
  t.match(lines, [
    { dynamo: { command: 'BatchGetItemCommand', error: 'ProvisionedThroughputExceededException', ms: Number } },
    { dynamo: { command: 'BatchGetItemCommand', status: 200, ms: Number } }
  ])
  t.equal(lines.length, 2)
})

t.test('an attempt past its request timeout is given up and tried again, not waited for', async (t) => {
  const { proxy, cache } = await throughProxy(t, { maxAttempts: 2, connectionTimeoutMs: 100, requestTimeoutMs: 500 })
  // The first answer comes long after the attempt's 500 ms, and after the read's own limit (1.1 s).
  proxy.failNext(1, { lateMs: 1500 })
  const calls = newRequestCalls()
  const read = await countingCalls(calls, () => cache.getRows([loanKey]))
  t.same(read.get('loans')?.get(loanKey.id), rows.loans[0], 'read by the second attempt')
  t.equal(calls.dynamo, 2)
})
