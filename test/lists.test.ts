import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Type } from '@sinclair/typebox'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { Fee, Loan, Request } from '../src/schemas/records.js'
import { toRecord } from '../src/resolution/records.js'
import { KIND_SPECS, type AlmaRecord } from '../src/resolution/kinds.js'
import { buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// CONTRACT 3.3 and 3.5 through the HTTP surface, against dynalite, fauxqs and
// the Alma simulator.

const stack = await startTestStack(t)
const { app, logs } = await buildTestApp(t)

// The 200 bodies must match the documented schemas, with nothing extra.
const summaryShape = TypeCompiler.Compile(Type.Object({
  primary_id: Type.String(),
  loans: Type.Array(Type.Object(Loan.properties, { additionalProperties: false })),
  requests: Type.Array(Type.Object(Request.properties, { additionalProperties: false })),
  fees: Type.Array(Type.Object(Fee.properties, { additionalProperties: false }))
}, { additionalProperties: false }))

const recordsOf = (records: ReturnType<typeof almaUserRecords>) => ({
  loans: records.loans.map((record) => toRecord(KIND_SPECS.loans, record)),
  requests: records.requests.map((record) => toRecord(KIND_SPECS.requests, record)),
  fees: records.fees.map((record) => toRecord(KIND_SPECS.fees, record))
})

const get = (url: string) => app.inject({ method: 'GET', url })

t.test('cached user: all from the cache, no Alma call, nobody queued', async (t) => {
  const records = almaUserRecords('cached-1', { loans: 30, requests: 10, fees: 5 })
  stack.alma.addUser({ primary_id: 'cached-1', ...records })
  await stack.writeCacheRows(cacheRowsOf('cached-1', records, nowSeconds() + DAY))
  stack.alma.resetCalls()
  const queuedBefore = (await stack.queuedUserIDs()).length

  const response = await get('/users/cached-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'hit')
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  t.strictSame(body, { primary_id: 'cached-1', ...recordsOf(records) })
  t.ok(summaryShape.Check(body), 'matches the documented schema, no extra field')
  t.equal(stack.alma.calls.length, 0, 'a hit makes no Alma call')
  t.equal((await stack.queuedUserIDs()).length, queuedBefore, 'a valid user record is not queued')

  for (const kind of ['loans', 'requests', 'fees'] as const) {
    const list = await get(`/users/CACHED-1/${kind}`)
    t.equal(list.statusCode, 200, kind)
    t.equal(list.headers['x-cache'], 'hit', `${kind}: the key is the lowercased user ID`)
    t.strictSame(list.json(), recordsOf(records)[kind])
  }
  t.equal(stack.alma.calls.length, 0)
})

t.test('user only in Alma: every list paged from Alma, user queued once as written', async (t) => {
  const records = almaUserRecords('alma-only-1', { loans: 145, requests: 23, fees: 4 })
  stack.alma.addUser({ primary_id: 'alma-only-1', ...records })
  stack.alma.resetCalls()
  const queuedBefore = (await stack.queuedUserIDs()).length

  const response = await get('/users/Alma-Only-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'miss')
  const body = response.json()
  t.equal(body.primary_id, 'Alma-Only-1', 'primary_id echoes the ID as written')
  t.strictSame({ loans: body.loans, requests: body.requests, fees: body.fees }, recordsOf(records), 'lists complete past one page')
  t.ok(summaryShape.Check(body))

  const calls = stack.alma.calls.map((call) => `${call.path}?${new URLSearchParams(call.query)}`).sort()
  t.same(calls, [
    '/almaws/v1/users/Alma-Only-1/fees?',
    '/almaws/v1/users/Alma-Only-1/loans?expand=renewable&limit=100&offset=0',
    '/almaws/v1/users/Alma-Only-1/loans?expand=renewable&limit=100&offset=100',
    '/almaws/v1/users/Alma-Only-1/requests?limit=100&offset=0'
  ], 'pages of 100, no per-item calls')
  t.same((await stack.queuedUserIDs()).slice(queuedBefore), ['Alma-Only-1'], 'queued once, body exactly as the caller wrote it')
})

t.test('expired user record: served from Alma and queued', async (t) => {
  const records = almaUserRecords('expired-1', { loans: 2, requests: 1, fees: 1 })
  stack.alma.addUser({ primary_id: 'expired-1', ...records })
  await stack.writeCacheRows(cacheRowsOf('expired-1', records, nowSeconds() - 1))
  stack.alma.resetCalls()
  const queuedBefore = (await stack.queuedUserIDs()).length

  const response = await get('/users/expired-1/loans')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'miss')
  t.strictSame(response.json(), recordsOf(records).loans)
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/expired-1/loans'])
  t.same((await stack.queuedUserIDs()).slice(queuedBefore), ['expired-1'])
})

t.test('valid user, some items not valid: the cheaper of item calls and list pages', async (t) => {
  const records = almaUserRecords('partial-1', { loans: 12, requests: 3, fees: 2 })
  stack.alma.addUser({ primary_id: 'partial-1', ...records })
  const rows = cacheRowsOf('partial-1', records, nowSeconds() + DAY)
  const expired = cacheRowsOf('partial-1', records, nowSeconds() - DAY)
  // Loans: 3 expired, 2 absent from the cache: one list page beats five item calls.
  await stack.writeCacheRows({ ...rows, loans: [...rows.loans.slice(0, 7), ...expired.loans.slice(7, 10)], requests: rows.requests.slice(0, 2) })
  stack.alma.resetCalls()

  const loans = await get('/users/partial-1/loans')
  t.equal(loans.statusCode, 200)
  t.equal(loans.headers['x-cache'], 'partial')
  t.strictSame(loans.json(), recordsOf(records).loans, 'the whole list, in the user record order')
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/partial-1/loans'], 'one list page')

  // Requests: one missing of three: one item call beats a page only on a tie, and is exact.
  stack.alma.resetCalls()
  const requests = await get('/users/partial-1/requests')
  t.equal(requests.headers['x-cache'], 'partial')
  t.strictSame(requests.json(), recordsOf(records).requests)
  t.same(stack.alma.calls.map((call) => call.path), [`/almaws/v1/users/partial-1/requests/${records.requests[2]?.request_id}`])
  t.same(stack.alma.calls[0]?.query, {}, 'an item call, not a page')
})

t.test('valid user listing exactly 100 requests, 2 not cached: one page holds all 100, so one list call beats two item calls', async (t) => {
  const records = almaUserRecords('hundred-1', { loans: 0, requests: 100, fees: 0 })
  stack.alma.addUser({ primary_id: 'hundred-1', ...records })
  const rows = cacheRowsOf('hundred-1', records, nowSeconds() + DAY)
  await stack.writeCacheRows({ user: rows.user, requests: rows.requests.slice(0, 98) })
  stack.alma.resetCalls()

  const response = await get('/users/hundred-1/requests')
  t.equal(response.statusCode, 200)
  t.strictSame(response.json(), recordsOf(records).requests)
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/hundred-1/requests'], 'one list page, not two item calls')
})

t.test('fees come in one list call however many are cached: 2 of 150 expired, one call', async (t) => {
  const records = almaUserRecords('fees-150', { loans: 0, requests: 0, fees: 150 })
  stack.alma.addUser({ primary_id: 'fees-150', ...records })
  const fresh = cacheRowsOf('fees-150', records, nowSeconds() + DAY)
  const expired = cacheRowsOf('fees-150', records, nowSeconds() - DAY)
  await stack.writeCacheRows({ user: fresh.user, fees: [...fresh.fees.slice(0, 148), ...expired.fees.slice(148)] })
  stack.alma.resetCalls()
  const response = await get('/users/fees-150/fees')
  t.equal(response.statusCode, 200)
  t.strictSame(response.json(), recordsOf(records).fees)
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/fees-150/fees'], 'Alma does not page fees: one call, not two item calls')
})

t.test('an item call answering with another record fills in nothing: no record listed twice', async (t) => {
  const records = almaUserRecords('list-other-answer', { loans: 0, requests: 2, fees: 0 })
  stack.alma.addUser({ primary_id: 'list-other-answer', ...records })
  const rows = cacheRowsOf('list-other-answer', records, nowSeconds() + DAY)
  // The user row and request 1 cached; request 2 comes from one item call, which answers with request 1.
  await stack.writeCacheRows({ user: rows.user, requests: rows.requests.slice(0, 1) })
  const [request1, request2] = records.requests as [AlmaRecord, AlmaRecord]
  stack.alma.resetCalls()
  stack.alma.injectFaults(1, { status: 200, body: JSON.stringify(request1), path: /\/requests\/[^/]+$/ })
  t.teardown(() => { stack.alma.clearFaults() })
  const response = await get('/users/list-other-answer/requests')
  t.same(stack.alma.calls.map((call) => call.path), [`/almaws/v1/users/list-other-answer/requests/${String(request2.request_id)}`])
  t.equal(response.statusCode, 502, 'Alma answered with something unusable (not request 1 twice)')
})

t.test('items Alma no longer has are left out', async (t) => {
  const records = almaUserRecords('gone-1', { loans: 3, requests: 0, fees: 0 })
  const rows = cacheRowsOf('gone-1', records, nowSeconds() + DAY)
  await stack.writeCacheRows({ ...rows, loans: rows.loans.slice(0, 2) })
  // Alma has returned the third loan since the cache was written.
  stack.alma.addUser({ primary_id: 'gone-1', ...records, loans: records.loans.slice(0, 2) })
  stack.alma.resetCalls()

  const response = await get('/users/gone-1/loans')
  t.equal(response.statusCode, 200)
  t.strictSame(response.json(), recordsOf(records).loans.slice(0, 2))
  t.equal(response.headers['x-cache'], 'partial', 'Alma was asked, and answered "not found"')
})

t.test('list pages read for cached IDs: an Alma record without a string ID stands for none of them', async (t) => {
  const records = almaUserRecords('idless-1', { loans: 2, requests: 0, fees: 0 })
  const [first, second] = recordsOf(records).loans
  const rows = cacheRowsOf('idless-1', records, nowSeconds() + DAY)
  // Four IDs, none cached: one list page beats four item calls.
  await stack.writeCacheRows({ user: { ...rows.user, loan_ids: [first?.loan_id, 'undefined', '7', second?.loan_id] } })
  const { loan_id: _dropped, ...idless } = records.loans[0] as AlmaRecord
  stack.alma.addUser({ primary_id: 'idless-1', loans: [records.loans[0] as AlmaRecord, { ...idless, title: 'no ID' }, { ...idless, loan_id: 7 }, records.loans[1] as AlmaRecord] })
  stack.alma.resetCalls()
  const response = await get('/users/idless-1/loans')
  t.equal(stack.alma.calls.length, 1, 'the list page')
  t.strictSame(response.json(), [first, second], 'not a record for "undefined" or "7"')
})

t.test('items no longer active in Alma since they were cached (a returned loan, a disputed fee) are left out, by item calls or list pages alike', async (t) => {
  const records = almaUserRecords('closed-1', { loans: 101, requests: 0, fees: 3 })
  const rows = cacheRowsOf('closed-1', records, nowSeconds() + DAY)
  const expired = cacheRowsOf('closed-1', records, nowSeconds() - DAY)
  const closed = (record: AlmaRecord, field: string, value: unknown) => ({ ...record, [field]: value })
  stack.alma.addUser({
    primary_id: 'closed-1',
    loans: records.loans.map((loan, i) => i === 100 ? closed(loan, 'loan_status', 'COMPLETE') : loan),
    fees: records.fees.map((fee, i) => i === 2 ? closed(fee, 'status', { value: 'INDISPUTE', desc: 'In dispute' }) : fee)
  })
  // One loan of 101 (two pages) and one fee expired in the cache: item calls are the cheaper way.
  await stack.writeCacheRows({ ...rows, loans: [...rows.loans.slice(0, 100), ...expired.loans.slice(100)], fees: [...rows.fees.slice(0, 2), ...expired.fees.slice(2)] })
  stack.alma.resetCalls()
  for (const kind of ['loans', 'fees'] as const) {
    const response = await get(`/users/closed-1/${kind}`)
    t.strictSame(response.json(), recordsOf(records)[kind].slice(0, -1), `${kind} by an item call: the closed one left out`)
  }
  t.same(stack.alma.calls.map((call) => call.path.split('/').length === 7 ? 'item' : 'list'), ['item', 'item'])

  // Three expired loans (two pages are cheaper), two of three fees (one list call is): the lists, which hold what is active.
  await stack.writeCacheRows({ loans: expired.loans.slice(98), fees: expired.fees.slice(1) })
  stack.alma.resetCalls()
  for (const kind of ['loans', 'fees'] as const) {
    const response = await get(`/users/closed-1/${kind}`)
    t.strictSame(response.json(), recordsOf(records)[kind].slice(0, -1), `${kind} by the list: the same`)
  }
  // Alma's loans list holds the 100 active loans: one page, not the two counted on.
  t.same(stack.alma.calls.map((call) => call.path.split('/').length === 7 ? 'item' : 'list'), ['list', 'list'])
})

t.test('a list holds what is active whatever its source: a closed record still listed by the cache, or kept as an expired copy, is left out', async (t) => {
  const records = almaUserRecords('closed-2', { loans: 3, requests: 0, fees: 2 })
  const closedLoan = { ...records.loans[1] as AlmaRecord, loan_status: 'COMPLETE' }
  const closedFee = { ...records.fees[0] as AlmaRecord, status: { value: 'CLOSED', desc: 'Closed' } }
  const withClosed = { ...records, loans: [records.loans[0] as AlmaRecord, closedLoan, records.loans[2] as AlmaRecord], fees: [closedFee, records.fees[1] as AlmaRecord] }
  const active = { loans: [recordsOf(records).loans[0], recordsOf(records).loans[2]], fees: [recordsOf(records).fees[1]] }
  stack.alma.addUser({ primary_id: 'closed-2', ...withClosed })
  const pick = ({ loans, fees }: { loans: unknown, fees: unknown }) => ({ loans, fees })

  // Valid in the cache, user and items alike: the webhook writer updated the records but not yet the user's ID lists.
  await stack.writeCacheRows(cacheRowsOf('closed-2', withClosed, nowSeconds() + DAY))
  stack.alma.resetCalls()
  const cached = await get('/users/closed-2')
  t.strictSame(pick(cached.json()), active, 'from the cache, the closed ones left out')
  t.equal(cached.headers['x-cache'], 'hit')
  t.same(stack.alma.calls, [], 'and Alma not asked')

  // All expired, and Alma failing: the copies, less the closed ones.
  await stack.writeCacheRows(cacheRowsOf('closed-2', withClosed, nowSeconds() - DAY))
  stack.alma.injectFaults(9, { status: 500 })
  t.teardown(() => { stack.alma.clearFaults() })
  const stale = await get('/users/closed-2')
  t.equal(stale.headers['x-cache'], 'stale')
  t.strictSame(pick(stale.json()), active, 'from the expired copies, the closed ones left out')
})

t.test('a cached user Alma no longer knows: its missing items are left out, by item calls or list pages alike', async (t) => {
  const records = almaUserRecords('forgotten-1', { loans: 12, requests: 3, fees: 0 })
  const rows = cacheRowsOf('forgotten-1', records, nowSeconds() + DAY)
  // Five loans missing (list pages are cheaper), one request missing (an item call is).
  await stack.writeCacheRows({ ...rows, loans: rows.loans.slice(0, 7), requests: rows.requests.slice(0, 2) })
  stack.alma.resetCalls()

  for (const [kind, kept] of [['loans', 7], ['requests', 2]] as const) {
    const response = await get(`/users/forgotten-1/${kind}`)
    t.equal(response.statusCode, 200, kind)
    t.strictSame(response.json(), recordsOf(records)[kind].slice(0, kept), `${kind}: the cached ones`)
    t.equal(response.headers['x-cache'], 'partial')
  }
  t.same(stack.alma.calls.map((call) => call.query.limit === undefined ? 'item' : 'page'), ['page', 'item'])
})

// 1,500: a department's or a bindery's account, far past a patron's, still a valid record to use (not refreshed on every request).
for (const [userID, loans] of [['many-1', 250], ['many-2', 1500]] as const) {
  t.test(`a cached user with ${loans} loans reads them in batches of at most 100, from the cache alone`, async (t) => {
    const records = almaUserRecords(userID, { loans, requests: 0, fees: 0 })
    stack.alma.addUser({ primary_id: userID, ...records })
    await stack.writeCacheRows(cacheRowsOf(userID, records, nowSeconds() + DAY))
    stack.alma.resetCalls()
    const queuedBefore = (await stack.queuedUserIDs()).length
    const response = await get(`/users/${userID}/loans`)
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'hit')
    t.strictSame(response.json(), recordsOf(records).loans)
    t.equal(stack.alma.calls.length, 0)
    t.equal((await stack.queuedUserIDs()).length, queuedBefore, 'a valid user record is not queued')
  })
}

t.test('an empty user: empty lists, the list keys absent in Alma', async (t) => {
  stack.alma.addUser({ primary_id: 'empty-1' })
  const response = await get('/users/empty-1')
  t.equal(response.statusCode, 200)
  t.same(response.json(), { primary_id: 'empty-1', loans: [], requests: [], fees: [] })
})

t.test('a user neither cached nor in Alma is 404, and was queued', async (t) => {
  // Each list call says so in its own words (the fee calls with "identifier not found").
  for (const path of ['/users/nobody-1', '/users/nobody-1/loans', '/users/nobody-1/requests', '/users/nobody-1/fees']) {
    const queuedBefore = (await stack.queuedUserIDs()).length
    const response = await get(path)
    t.equal(response.statusCode, 404, path)
    t.strictSame(response.json(), { statusCode: 404, error: 'Not Found', message: 'User not found' })
    t.equal(response.headers['cache-control'], 'no-store')
    t.notOk(response.headers['x-cache'], 'X-Cache is for 200s')
    t.same((await stack.queuedUserIDs()).slice(queuedBefore), ['nobody-1'])
  }
})

t.test('corrupt cache rows are misses, never 500s', async (t) => {
  const records = almaUserRecords('corrupt-1', { loans: 2, requests: 1, fees: 1 })
  stack.alma.addUser({ primary_id: 'corrupt-1', ...records })
  const rows = cacheRowsOf('corrupt-1', records, nowSeconds() + DAY)
  await stack.writeCacheRows({
    ...rows,
    loans: [{ ...rows.loans[0], renewable: 'sometimes' } as AlmaRecord, { ...rows.loans[1], expiry_date: 'never' } as AlmaRecord],
    requests: [{ ...rows.requests[0], user_primary_id: 42 } as AlmaRecord]
  })
  stack.alma.resetCalls()
  const response = await get('/users/corrupt-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'partial', 'the fee was fine')
  t.strictSame(response.json(), { primary_id: 'corrupt-1', ...recordsOf(records) })

  await stack.writeCacheRows({ user: { ...rows.user, loan_ids: 'not-a-list' } })
  const corruptUser = await get('/users/corrupt-1')
  t.equal(corruptUser.statusCode, 200)
  t.strictSame(corruptUser.json(), { primary_id: 'corrupt-1', ...recordsOf(records) })
  t.equal(corruptUser.headers['x-cache'], 'miss', 'a user row of unexpected types is a missing one (CONTRACT 4)')
  await stack.writeCacheRows({ user: { ...rows.user, expiry_date: 'tomorrow' } })
  const queuedBefore = (await stack.queuedUserIDs()).length
  const unreadable = await get('/users/corrupt-1')
  t.equal(unreadable.statusCode, 200)
  t.equal(unreadable.headers['x-cache'], 'miss', 'so is one without a usable expiry_date')
  t.same((await stack.queuedUserIDs()).slice(queuedBefore), ['corrupt-1'], 'and the user is queued')
  t.ok(logs().some((line) => line.msg === 'request summary' && line.status === 200), 'the app logs its answers')
})

t.test('valid user record, nothing of it cached: a miss, fees from their one list call', async (t) => {
  const records = almaUserRecords('uncached-items-1', { loans: 1, requests: 0, fees: 3 })
  stack.alma.addUser({ primary_id: 'uncached-items-1', ...records })
  await stack.writeCacheRows({ user: cacheRowsOf('uncached-items-1', records, nowSeconds() + DAY).user })
  stack.alma.resetCalls()
  const response = await get('/users/uncached-items-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'miss')
  t.strictSame(response.json(), { primary_id: 'uncached-items-1', ...recordsOf(records) })
  t.same(stack.alma.calls.map((call) => call.path).sort(), [
    '/almaws/v1/users/uncached-items-1/fees',
    '/almaws/v1/users/uncached-items-1/loans'
  ], 'one fee list beats three fee calls; one loan page ties one loan call, and carries renewable')
  t.type(response.json().loans[0].renewable, 'boolean')
})

t.test('valid user record with empty lists: a hit with no item reads', async (t) => {
  await stack.writeCacheRows({ user: { primary_id: 'empty-cached-1', expiry_date: nowSeconds() + DAY } })
  stack.alma.resetCalls()
  const response = await get('/users/empty-cached-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'hit')
  t.same(response.json(), { primary_id: 'empty-cached-1', loans: [], requests: [], fees: [] })
  t.equal(stack.alma.calls.length, 0)
})
