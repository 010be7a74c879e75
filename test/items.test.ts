import t from 'tap'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { KIND_SPECS, type Kind } from '../src/resolution/kinds.js'
import { toRecord } from '../src/resolution/records.js'
import { buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// CONTRACT 3.2, 3.4 and 3.5 for the three single-item endpoints.

const stack = await startTestStack(t)
const { app } = await buildTestApp(t)
const get = (url: string) => app.inject({ method: 'GET', url })

const KINDS: Kind[] = ['loans', 'requests', 'fees']
const idOf = (kind: Kind, record: Record<string, unknown>) => String(record[KIND_SPECS[kind].idField])

const owner = almaUserRecords('item-owner', { loans: 2, requests: 2, fees: 2 })
const other = almaUserRecords('item-other', { loans: 1, requests: 1, fees: 1 })
stack.alma.addUser({ primary_id: 'item-owner', ...owner })
stack.alma.addUser({ primary_id: 'item-other', ...other })
const ownerRows = cacheRowsOf('item-owner', owner, nowSeconds() + DAY)
// The owner's second item of each kind is expired in the cache.
const ownerExpired = cacheRowsOf('item-owner', owner, nowSeconds() - DAY)
await stack.writeCacheRows({
  user: ownerRows.user,
  loans: [ownerRows.loans[0], ownerExpired.loans[1]],
  requests: [ownerRows.requests[0], ownerExpired.requests[1]],
  fees: [ownerRows.fees[0], ownerExpired.fees[1]]
} as typeof ownerRows)
await stack.writeCacheRows(cacheRowsOf('item-other', other, nowSeconds() + DAY))

for (const kind of KINDS) {
  t.test(`${kind}: a valid cached item is a hit with no Alma call`, async (t) => {
    const record = owner[kind][0] as Record<string, unknown>
    stack.alma.resetCalls()
    const queued = (await stack.queuedUserIDs()).length
    const response = await get(`/users/ITEM-OWNER/${kind}/${idOf(kind, record)}`)
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'hit')
    t.equal(response.headers['cache-control'], 'no-store')
    t.strictSame(response.json(), toRecord(KIND_SPECS[kind], record))
    t.equal(stack.alma.calls.length, 0)
    t.equal((await stack.queuedUserIDs()).length, queued, 'valid user record: not queued')
  })

  t.test(`${kind}: an expired item comes from Alma's item endpoint`, async (t) => {
    const record = owner[kind][1] as Record<string, unknown>
    stack.alma.resetCalls()
    const response = await get(`/users/item-owner/${kind}/${idOf(kind, record)}`)
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'miss')
    // Alma's single-loan call cannot be asked for a loan's renewable flag: it is left out.
    const { renewable: _renewable, ...fromItemCall } = toRecord(KIND_SPECS[kind], record)
    t.strictSame(response.json(), kind === 'loans' ? fromItemCall : toRecord(KIND_SPECS[kind], record))
    t.same(stack.alma.calls.map((call) => call.path), [`/almaws/v1/users/item-owner/${kind}/${idOf(kind, record)}`])
  })

  t.test(`${kind}: another user's cached item is never returned (3.2)`, async (t) => {
    const foreign = other[kind][0] as Record<string, unknown>
    stack.alma.resetCalls()
    const response = await get(`/users/item-owner/${kind}/${idOf(kind, foreign)}`)
    t.equal(response.statusCode, 404, "Alma says the item is not the owner's")
    t.same(Object.keys(response.json()).sort(), ['error', 'message', 'statusCode'])
    t.notMatch(response.body, String(foreign.title), 'nothing of the foreign record leaks')
    t.same(stack.alma.calls.map((call) => call.path), [`/almaws/v1/users/item-owner/${kind}/${idOf(kind, foreign)}`])
  })

  t.test(`${kind}: an unknown item is 404`, async (t) => {
    const response = await get(`/users/item-owner/${kind}/nosuchitem1`)
    t.equal(response.statusCode, 404)
    t.equal(response.json().error, 'Not Found')
    t.equal(response.json().message, `No ${kind.slice(0, -1)} nosuchitem1 for user item-owner`, 'the item, then its user, as the caller wrote them')
  })
}

t.test('an owner attribute written as Alma spells the user is still the owner (3.2: compared case-insensitively)', async (t) => {
  const cased = almaUserRecords('Item-Cased', { loans: 1, requests: 1, fees: 1 })
  const rows = cacheRowsOf('Item-Cased', cased, nowSeconds() + DAY)
  await stack.writeCacheRows({
    user: rows.user,
    loans: rows.loans.map((row) => ({ ...row, user_id: 'Item-Cased' })),
    requests: rows.requests.map((row) => ({ ...row, user_primary_id: 'Item-Cased' })),
    fees: rows.fees.map((row) => ({ ...row, user_primary_id: { ...(row.user_primary_id as Record<string, unknown>), value: 'Item-Cased' } }))
  })
  stack.alma.resetCalls()
  for (const kind of KINDS) {
    const response = await get(`/users/item-cased/${kind}/${idOf(kind, cased[kind][0] as Record<string, unknown>)}`)
    t.equal(response.statusCode, 200, kind)
    t.equal(response.headers['x-cache'], 'hit', kind)
  }
  t.equal(stack.alma.calls.length, 0, 'Alma not asked')
})

t.test('a record valid until this very second is still valid (3.1, 3.2: at least now, in whole seconds)', async (t) => {
  const edge = almaUserRecords('item-edge', { loans: 1, requests: 0, fees: 0 })
  stack.alma.addUser({ primary_id: 'item-edge', ...edge })
  // A second just ahead, and the clock halfway through it while the request is served.
  const second = nowSeconds() + 2
  await stack.writeCacheRows(cacheRowsOf('item-edge', edge, second))
  stack.alma.resetCalls()
  const queued = (await stack.queuedUserIDs()).length
  const realNow = Date.now
  Date.now = () => second * 1000 + 500
  try {
    const response = await get(`/users/item-edge/loans/${String(edge.loans[0]?.loan_id)}`)
    t.equal(response.headers['x-cache'], 'hit')
  } finally {
    Date.now = realNow
  }
  t.equal(stack.alma.calls.length, 0, 'no Alma call')
  t.equal((await stack.queuedUserIDs()).length, queued, 'the user record valid: not queued')

  // The next second, halfway through: both rows are past their second, so neither is valid.
  Date.now = () => (second + 1) * 1000 + 500
  try {
    const response = await get(`/users/item-edge/loans/${String(edge.loans[0]?.loan_id)}`)
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'miss', 'a second past its validity, the item is no longer valid')
  } finally {
    Date.now = realNow
  }
  t.equal(stack.alma.calls.length, 1, 'the item from Alma')
  t.equal((await stack.queuedUserIDs()).length, queued + 1, 'a second past its validity, the user record is not valid: queued')
})

t.test('a value of a type the schemas do not list is sent as Alma gave it (2.1: nothing coerced), not refused by a serializer', async (t) => {
  // The schemas list the types Alma is known to send; Alma's JSON varies across versions and institutions.
  const [fee] = almaUserRecords('item-odd', { loans: 0, requests: 0, fees: 1 }).fees
  stack.alma.addUser({ primary_id: 'item-odd', fees: [{ ...fee, balance: '12.50', title: 1984 }] })
  const response = await get(`/users/item-odd/fees/${String(fee?.id)}`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'miss')
  t.strictSame([response.json().balance, response.json().title], ['12.50', 1984])
})

t.test('Alma answering "General Error" for a missing item is still 404', async (t) => {
  // The simulator answers 401652 for IDs starting with g, as real Alma sometimes does.
  const response = await get('/users/item-owner/loans/g12345')
  t.equal(response.statusCode, 404)
})

t.test('Alma answering an item call with another record is no answer: a 502, or the expired copy where there is one', async (t) => {
  const almaOnly = almaUserRecords('item-alma-only', { loans: 2, requests: 2, fees: 2 })
  stack.alma.addUser({ primary_id: 'item-alma-only', ...almaOnly })
  t.teardown(() => { stack.alma.clearFaults() })
  for (const kind of KINDS) {
    const [asked, another] = almaOnly[kind] as [Record<string, unknown>, Record<string, unknown>]
    stack.alma.injectFaults(1, { status: 200, body: JSON.stringify(another), path: new RegExp(`/${kind}/[^/]+$`) })
    const response = await get(`/users/item-alma-only/${kind}/${idOf(kind, asked)}`)
    t.equal(response.statusCode, 502, `${kind}: not another record served as the one asked for`)
    t.notMatch(response.body, idOf(kind, another))
    // The owner's second item has an expired copy (3.7).
    const [, expired] = owner[kind] as [Record<string, unknown>, Record<string, unknown>]
    stack.alma.injectFaults(1, { status: 200, body: JSON.stringify(owner[kind][0]), path: new RegExp(`/${kind}/[^/]+$`) })
    const stale = await get(`/users/item-owner/${kind}/${idOf(kind, expired)}`)
    t.equal(stale.headers['x-cache'], 'stale', kind)
    t.strictSame(stale.json(), toRecord(KIND_SPECS[kind], expired))
  }
})

t.test('user record missing: the item from Alma, the user queued', async (t) => {
  const records = almaUserRecords('item-uncached', { loans: 1, requests: 0, fees: 0 })
  stack.alma.addUser({ primary_id: 'item-uncached', ...records })
  const queued = (await stack.queuedUserIDs()).length
  const loan = records.loans[0] as Record<string, unknown>
  const response = await get(`/users/Item-Uncached/loans/${idOf('loans', loan)}`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'miss')
  t.same((await stack.queuedUserIDs()).slice(queued), ['Item-Uncached'])
})

t.test('user record expired, item valid: a hit, and the user queued', async (t) => {
  const records = almaUserRecords('item-stale-user', { loans: 1, requests: 0, fees: 0 })
  const rows = cacheRowsOf('item-stale-user', records, nowSeconds() + DAY)
  await stack.writeCacheRows({ ...rows, user: { ...rows.user, expiry_date: nowSeconds() - 60 } })
  stack.alma.resetCalls()
  const queued = (await stack.queuedUserIDs()).length
  const response = await get(`/users/item-stale-user/loans/${idOf('loans', records.loans[0] as Record<string, unknown>)}`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'hit')
  t.equal(stack.alma.calls.length, 0)
  t.same((await stack.queuedUserIDs()).slice(queued), ['item-stale-user'])
})

t.test('an item whose ID is also the user\'s ID: one read finds both rows (3.4), the user not queued', async (t) => {
  // DynamoDB keys are per table: the users row and a loan may share an ID, and neither hides the other.
  const records = almaUserRecords('same-id-1', { loans: 1, requests: 0, fees: 0 })
  const loans = [{ ...records.loans[0], loan_id: 'same-id-1' }]
  await stack.writeCacheRows(cacheRowsOf('same-id-1', { ...records, loans }, nowSeconds() + DAY))
  stack.alma.resetCalls()
  const queued = (await stack.queuedUserIDs()).length
  const response = await get('/users/same-id-1/loans/same-id-1')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'hit')
  t.equal(stack.alma.calls.length, 0)
  t.equal((await stack.queuedUserIDs()).length, queued, 'the users row was read as well: valid, not queued')
})

t.test('item IDs are keys as written: a cached item whose ID has capitals is a hit, on its route and in its list', async (t) => {
  const records = almaUserRecords('item-caps', { loans: 0, requests: 1, fees: 0 })
  const requests = [{ ...records.requests[0], request_id: 'Req-ABC1' }]
  await stack.writeCacheRows(cacheRowsOf('item-caps', { ...records, requests }, nowSeconds() + DAY))
  stack.alma.resetCalls()
  const item = await get('/users/item-caps/requests/Req-ABC1')
  t.equal(item.statusCode, 200)
  t.equal(item.headers['x-cache'], 'hit')
  const list = await get('/users/item-caps/requests')
  t.equal(list.headers['x-cache'], 'hit')
  t.strictSame(list.json(), requests.map((request) => toRecord(KIND_SPECS.requests, request)))
  t.equal(stack.alma.calls.length, 0, 'Alma not asked')
})
