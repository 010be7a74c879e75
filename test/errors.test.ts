import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import { emptyAwsAnswer, keptAlivePeer } from './support/sockets.js'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import type { AlmaClient } from '../src/clients/alma.js'
import { loadConfig } from '../src/config.js'
import { ITEM_ID_RULE, USER_ID_RULE } from '../src/resolution/identifiers.js'
import { KIND_SPECS } from '../src/resolution/kinds.js'
import { toRecord } from '../src/resolution/records.js'
import { startSsmPeer, type SsmPeer } from './support/ssm-peer.js'
import { ALMA_TEST_KEY, buildTestApp, holdsKeyPart, DAY, nowSeconds, startTestStack } from './helper.js'

// CONTRACT 2.2, 2.3, 3.6 and 3.7: statuses, headers and degraded modes.

const stack = await startTestStack(t)
const { app, rawLogs } = await buildTestApp(t, { config: { ...loadConfig(), almaCallTimeoutMs: 300 } })
const get = (url: string) => app.inject({ method: 'GET', url })

const records = almaUserRecords('faults-1', { loans: 3, requests: 1, fees: 1 })
stack.alma.addUser({ primary_id: 'faults-1', ...records })
stack.alma.addUser({ primary_id: 'faults-2', ...records })
stack.alma.addUser({ primary_id: 'faults-ssm', ...records })
const loanID = String(records.loans[0]?.loan_id)

t.beforeEach(() => {
  stack.alma.clearFaults()
  stack.alma.resetCalls()
})

/** Runs `build` with some process variables changed (the AWS SDK reads endpoints from there). */
async function withEnv<T> (changes: Record<string, string | undefined>, build: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(changes).map((name) => [name, process.env[name]]))
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  apply(changes)
  try {
    return await build()
  } finally {
    apply(saved)
  }
}

/** The process variables of an app that reads its Alma key from `ssm`, SSM's stand-in. */
const keyFromSsm = (ssm: SsmPeer): Record<string, string | undefined> =>
  ({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: '/alma/api-key', AWS_ENDPOINT_URL_SSM: ssm.url })
/** A request budget short enough for a silent SSM to use up. */
const ONE_SECOND_BUDGET = { REQUEST_BUDGET_MS: '1000', ALMA_CALL_TIMEOUT_MS: '1000' }

async function closedPort (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

t.test('400: identifiers that break 2.2 never reach the cache or Alma', async (t) => {
  const bad = [
    '/users/..%2Fadmin', '/users/a%2F..%2F..%2Fconf', '/users/a%3Fx=1', '/users/a%23frag',
    '/users/a%20b', `/users/${'a'.repeat(256)}`, '/users/%00', '/users/caf%C3%A9',
    '/users/ok/loans/a%2Fb', '/users/ok/loans/_.-', `/users/ok/requests/${'r'.repeat(65)}`, '/users/ok/fees/a@b', '/users/ok/fees/-'
  ]
  for (const url of bad) {
    const response = await get(url)
    t.equal(response.statusCode, 400, url)
    t.equal(response.headers['cache-control'], 'no-store')
    const body = response.json()
    t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode'])
    t.equal(body.error, 'Bad Request')
  }
  t.equal(stack.alma.calls.length, 0, 'no Alma path was reached')

  t.match((await get('/users/ok/loans/_.-')).json().message, /loanID/)

  // inject() resolves dot segments as a URL would (test/server.test.ts sends them raw):
  // whatever is left of the path, no Alma call follows.
  for (const url of ['/users/..', '/users/.', '/users/ok/loans/..', '/users/%2e%2e/loans']) {
    t.not((await get(url)).statusCode, 200, url)
  }
  t.equal(stack.alma.calls.length, 0)

  // Just over its limit, an ID reaches validation, which names its rule; far over (past the
  // router's 512), the router refuses the path, and the answer states both rules.
  t.equal((await get(`/users/${'a'.repeat(256)}`)).json().message, `Invalid userID: must be ${USER_ID_RULE}`)
  t.equal((await get(`/users/ok/loans/${'a'.repeat(600)}`)).json().message,
    `Malformed path: a user ID is ${USER_ID_RULE}; a loan, request or fee ID ${ITEM_ID_RULE}; either percent-encoded`)

  const longest = await get(`/users/${'a'.repeat(255)}`)
  t.equal(longest.statusCode, 404, 'a 255-character ID is valid (and unknown to Alma)')
})

t.test('a user ID may start with any of . _ - @ +, an item ID with any of . _ -, before the first letter or digit (2.2)', async (t) => {
  for (const userID of ['+447700900123', '@lib-user', '.x1', '_x1', '-x1']) {
    t.equal((await get(`/users/${userID}`)).statusCode, 404, `${userID}: valid (and unknown to Alma), not a 400`)
  }
  for (const itemID of ['-x1', '.x1', '_x1']) {
    t.equal((await get(`/users/ok/loans/${itemID}`)).statusCode, 404, `loan ${itemID}: valid (and unknown to Alma), not a 400`)
  }
})

t.test('400: a user ID without a letter or digit (2.2), even one the URL leaves alone', async (t) => {
  for (const url of ['/users/...', '/users/_.-', '/users/@+', '/users/-/loans', '/users/.../fees/f1']) {
    const response = await get(url)
    t.equal(response.statusCode, 400, url)
    t.match(response.json().message, /userID/, url)
  }
  t.equal(stack.alma.calls.length, 0, 'no Alma path was reached')
})

t.test('404 for unknown routes, as JSON, with no-store and nosniff', async (t) => {
  // An empty segment where an ID goes too: no route, as API Gateway answers it deployed (not a malformed ID's 400).
  for (const url of ['/', '/nothing', '/users/faults-1/things', '/users/faults-1/loans/1/more', '/users/', '/users//loans', '/users/faults-1/loans/', '/users/a!/fees/']) {
    const response = await get(url)
    t.equal(response.statusCode, 404, url)
    t.equal(response.json().statusCode, 404)
    t.equal(response.headers['cache-control'], 'no-store')
    t.equal(response.headers['x-content-type-options'], 'nosniff')
  }
  t.equal((await get('/nowhere?apikey=secret&user=alice')).json().message, 'No route for GET /nowhere', 'the query string not echoed')
  const post = await app.inject({ method: 'POST', url: '/users/faults-1' })
  t.equal(post.statusCode, 404)
  // No endpoint takes a body: none is parsed, so none can turn the 404 into a parse error.
  // Nor a Content-Type that is no media type, which Fastify refuses (415) before the not-found handler runs.
  for (const [type, payload] of [['application/json', '{'], ['text/plain', 'x'], ['application/x-www-form-urlencoded', 'a=%'], ['invalid', 'x'], [';;', 'x'], ['', 'x']]) {
    const sent = await app.inject({ method: 'POST', url: '/users/faults-1', headers: { 'content-type': type }, payload })
    t.equal(sent.statusCode, 404, `a ${type === '' ? 'blank' : type} content type`)
    t.strictSame(sent.json(), { statusCode: 404, error: 'Not Found', message: 'No route for POST /users/faults-1' })
  }
  const getWithBody = await app.inject({ method: 'GET', url: '/users/faults-1', headers: { 'content-type': 'application/json' }, payload: '{' })
  t.equal(getWithBody.statusCode, 200, 'a GET with a broken body is answered as a GET')
})

t.test("an error another plugin writes as text takes the contract's shape: a 4xx's words as its message, never a 5xx's", async (t) => {
  const { app } = await buildTestApp(t, {
    routes: [],
    plugins: [async (app) => {
      app.get('/refused', async (_request, reply) => reply.code(400).type('text/plain').send('Invalid Preflight Request'))
      app.get('/unsaid', async (_request, reply) => reply.code(409).type('text/plain').send(''))
      app.get('/bytes', async (_request, reply) => reply.code(400).type('application/octet-stream').send(Buffer.from('raw')))
      app.get('/broken', async (_request, reply) => reply.code(500).type('text/plain').send('java.lang.IllegalStateException at /opt/plugin/Secret.java:42'))
    }]
  })
  const answers = await Promise.all(['/refused', '/unsaid', '/bytes', '/broken'].map((url) => app.inject({ method: 'GET', url })))
  t.strictSame(answers.map((answer) => answer.json()), [
    { statusCode: 400, error: 'Bad Request', message: 'Invalid Preflight Request' },
    { statusCode: 409, error: 'Conflict', message: 'Conflict' },
    { statusCode: 400, error: 'Bad Request', message: 'Bad Request' },
    { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }
  ])
  t.ok(answers.every((answer) => answer.headers['content-type'] === 'application/json; charset=utf-8' && answer.headers['cache-control'] === 'no-store'))
})

t.test('a 4xx that another plugin throws keeps its words, as its own safe message', async (t) => {
  const { app } = await buildTestApp(t, {
    routes: [],
    plugins: [async (app) => {
      app.get('/limited', async () => { throw Object.assign(new Error('Rate limit exceeded, retry in 1 minute'), { statusCode: 429 }) })
    }]
  })
  const response = await app.inject({ method: 'GET', url: '/limited' })
  t.equal(response.statusCode, 429)
  t.strictSame(response.json(), { statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 minute' })
})

t.test('only path parameters are validated: a schema for any other part is refused at start-up', async (t) => {
  // TypeBox checks without the type coercion Ajv applied to query strings and headers.
  const { app } = await buildTestApp(t, {
    routes: [],
    plugins: [async (app) => { app.get('/paged', { schema: { querystring: Type.Object({ page: Type.Integer() }) } }, async () => ({})) }]
  })
  await t.rejects(async () => { await app.ready() }, /\/paged: only path parameters are validated \(not querystring\)/)
})

t.test('identifiers are percent-encoded into Alma URLs', async (t) => {
  stack.alma.addUser({ primary_id: 'o+brien@uni.ac.uk' })
  const response = await get('/users/o+brien@uni.ac.uk/fees')
  t.equal(response.statusCode, 200)
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/o%2Bbrien%40uni.ac.uk/fees'])
  stack.alma.resetCalls()
  t.equal((await get('/users/o+brien@uni.ac.uk/loans/enc-1')).statusCode, 404)
  t.same(stack.alma.calls.map((call) => call.path), ['/almaws/v1/users/o%2Bbrien%40uni.ac.uk/loans/enc-1'], 'in item paths too')
})

t.test('Alma 5xx: retried, then 502 without internals', async (t) => {
  stack.alma.injectFaults(3, { status: 500, body: 'java.lang.NullPointerException at com.exlibris.Secret' })
  const response = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(response.statusCode, 502)
  t.strictSame(response.json(), { statusCode: 502, error: 'Bad Gateway', message: 'Alma answered with an unusable response' })
  t.equal(stack.alma.calls.length, 3, 'first attempt and two retries')
  t.notMatch(response.body, /java|exlibris|Secret/)
})

t.test('Alma 5xx once, then fine: 200', async (t) => {
  stack.alma.injectFaults(1, { status: 503 })
  const response = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(response.statusCode, 200)
  t.equal(stack.alma.calls.length, 2)
})

t.test('Alma 200 with a body that is not JSON: 502', async (t) => {
  stack.alma.injectFaults(1, { status: 200, body: '<html>maintenance</html>' })
  const response = await get('/users/faults-1/fees')
  t.equal(response.statusCode, 502)
})

t.test('Alma 429: retried honouring Retry-After, then 503 with Retry-After', async (t) => {
  stack.alma.injectFaults(3, { status: 429, retryAfter: '0' })
  const response = await get('/users/faults-1/requests')
  t.equal(response.statusCode, 503)
  t.equal(response.headers['retry-after'], '1')
  t.strictSame(response.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Alma is refusing requests for now; retry later' }, 'nothing of Alma\'s answer in the message')
  t.equal(stack.alma.calls.length, 3)

  stack.alma.resetCalls()
  stack.alma.injectFaults(1, { status: 429, retryAfter: '0' })
  const recovered = await get('/users/faults-1/requests')
  t.equal(recovered.statusCode, 200, '429 once, then fine')
  t.equal(stack.alma.calls.length, 2)

  stack.alma.injectFaults(3, { status: 429 })
  const started = Date.now()
  const unsaid = await get('/users/faults-1/requests')
  t.ok(Date.now() - started >= 2000, 'without Retry-After, each retry waits out the second the threshold counts')
  t.equal(unsaid.statusCode, 503)
  t.equal(unsaid.headers['retry-after'], '1', 'a second when Alma does not say')
  t.match(rawLogs(), /Alma answered 429 \(PER_SECOND_THRESHOLD\)/, 'the log says which threshold')
})

t.test('a request that meets the service closing: 503 with Retry-After, like every 503', async (t) => {
  const { app: closing } = await buildTestApp(t)
  await (closing.alma as AlmaClient).close()
  const response = await closing.inject({ method: 'GET', url: '/users/closing-1/fees' })
  t.equal(response.statusCode, 503)
  t.equal(response.headers['retry-after'], '1')
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(stack.alma.calls.length, 0)
})

t.test('a Retry-After beyond the request budget is not waited for', async (t) => {
  stack.alma.injectFaults(1, { status: 429, retryAfter: '120' })
  const started = Date.now()
  const response = await get('/users/faults-1/requests')
  t.equal(response.statusCode, 503)
  t.equal(response.headers['retry-after'], '120')
  t.ok(Date.now() - started < 5000)
})

t.test('Alma never answers: 504 within the call budget', async (t) => {
  stack.alma.hang(3)
  const response = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(response.statusCode, 504)
  t.strictSame(response.json(), { statusCode: 504, error: 'Gateway Timeout', message: 'Alma did not answer in time' })
})

t.test('Alma fails, expired copy exists: the copy, X-Cache stale', async (t) => {
  const rows = cacheRowsOf('faults-1', records, nowSeconds() - DAY)
  await stack.writeCacheRows(rows)
  stack.alma.injectFaults(20, { status: 500 })

  const item = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(item.statusCode, 200)
  t.equal(item.headers['x-cache'], 'stale')
  t.strictSame(item.json(), toRecord(KIND_SPECS.loans, records.loans[0] as Record<string, unknown>))

  const user = await get('/users/faults-1')
  t.equal(user.statusCode, 200)
  t.equal(user.headers['x-cache'], 'stale', 'expired user record and expired items')
  t.equal(user.json().loans.length, 3)
})

t.test('expired user record, Alma fails on one list only: that list from its copies, the others as Alma gives them', async (t) => {
  const mixed = almaUserRecords('faults-one-list', { loans: 2, requests: 1, fees: 2 })
  stack.alma.addUser({ primary_id: 'faults-one-list', ...mixed })
  const expired = cacheRowsOf('faults-one-list', mixed, nowSeconds() - DAY)
  // The second loan's copy is gone and the first loan's copy is out of date: neither matters while Alma answers for loans.
  await stack.writeCacheRows({ ...expired, loans: [{ ...expired.loans[0], title: 'an older title' }] })
  stack.alma.injectFaults(20, { status: 500, path: /\/fees$/ })

  const response = await get('/users/faults-one-list')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'stale')
  t.strictSame(response.json(), {
    primary_id: 'faults-one-list',
    loans: mixed.loans.map((loan) => toRecord(KIND_SPECS.loans, loan)),
    requests: mixed.requests.map((request) => toRecord(KIND_SPECS.requests, request)),
    fees: mixed.fees.map((fee) => toRecord(KIND_SPECS.fees, fee))
  }, 'loans and requests as Alma gave them, fees from their copies')
  t.ok(stack.alma.calls.some((call) => call.path.endsWith('/fees') && call.status === 500), 'the fees call failed')

  // Without a copy of every fee the fees list cannot be whole: the error stands.
  await stack.writeCacheRows({ user: { ...expired.user, fee_ids: [...(expired.user.fee_ids as string[]), 'uncached-fee'] } })
  stack.alma.clearFaults()
  stack.alma.injectFaults(20, { status: 500, path: /\/fees$/ })
  t.equal((await get('/users/faults-one-list')).statusCode, 502)

  // Nor with an ID list that cannot be used: no copies are known.
  await stack.writeCacheRows({ user: { ...expired.user, fee_ids: ['not an ID!'] } })
  stack.alma.clearFaults()
  stack.alma.injectFaults(20, { status: 500, path: /\/fees$/ })
  t.equal((await get('/users/faults-one-list')).statusCode, 502)
})

t.test('valid user record, Alma fails: expired item copies fill the list, X-Cache stale', async (t) => {
  const many = almaUserRecords('faults-stale-list', { loans: 12, requests: 3, fees: 0 })
  stack.alma.addUser({ primary_id: 'faults-stale-list', ...many })
  const fresh = cacheRowsOf('faults-stale-list', many, nowSeconds() + DAY)
  const expired = cacheRowsOf('faults-stale-list', many, nowSeconds() - DAY)
  // Loans: 5 of 12 expired (the list-page path); requests: 1 of 3 expired (the per-item path).
  await stack.writeCacheRows({
    user: fresh.user,
    loans: [...fresh.loans.slice(0, 7), ...expired.loans.slice(7)],
    requests: [...fresh.requests.slice(0, 2), ...expired.requests.slice(2)]
  })
  stack.alma.injectFaults(20, { status: 500 })
  for (const kind of ['loans', 'requests'] as const) {
    const response = await get(`/users/faults-stale-list/${kind}`)
    t.equal(response.statusCode, 200, kind)
    t.equal(response.headers['x-cache'], 'stale', kind)
    t.strictSame(response.json(), many[kind].map((record) => toRecord(KIND_SPECS[kind], record)), `${kind}: whole, in order`)
  }

  // Without a copy of every missing item the list cannot be whole: the error stands.
  await stack.writeCacheRows({ user: { ...fresh.user, loan_ids: [...(fresh.user.loan_ids as string[]), 'uncached1', 'uncached2'] } })
  stack.alma.clearFaults()
  stack.alma.injectFaults(20, { status: 500 })
  t.equal((await get('/users/faults-stale-list/loans')).statusCode, 502)
})

t.test('valid user record, item calls: one fails with a copy, another is answered by Alma: the copy and the answer, X-Cache stale', async (t) => {
  // 101 requests: two missing cost two item calls or two pages, and a tie goes to the exact item calls.
  const many = almaUserRecords('faults-per-item', { loans: 0, requests: 101, fees: 0 })
  stack.alma.addUser({ primary_id: 'faults-per-item', ...many })
  const fresh = cacheRowsOf('faults-per-item', many, nowSeconds() + DAY)
  const expired = cacheRowsOf('faults-per-item', many, nowSeconds() - DAY)
  // The first request's copy expired; the second's absent from the cache; the rest valid.
  await stack.writeCacheRows({ user: fresh.user, requests: [...expired.requests.slice(0, 1), ...fresh.requests.slice(2)] })
  const failing = String(many.requests[0]?.request_id)
  stack.alma.injectFaults(20, { status: 500, path: new RegExp(`/requests/${failing}$`) })
  const response = await get('/users/faults-per-item/requests')
  t.equal(response.statusCode, 200, 'the one failed item has its copy; the other came from Alma')
  t.equal(response.headers['x-cache'], 'stale')
  t.strictSame(response.json(), many.requests.map((request) => toRecord(KIND_SPECS.requests, request)), 'whole, in order')
  t.ok(stack.alma.calls.every((call) => call.query.offset === undefined), 'item calls, no pages')
})

t.test('item calls failing: the expired copies said once a list, and only when they are served', async (t) => {
  const { app, logs } = await buildTestApp(t, { config: { ...loadConfig(), almaCallTimeoutMs: 300 } })
  // 101 requests, two of them expired: item calls (a tie goes to them), both failing.
  const many = almaUserRecords('faults-said-once', { loans: 0, requests: 101, fees: 0 })
  stack.alma.addUser({ primary_id: 'faults-said-once', ...many })
  const fresh = cacheRowsOf('faults-said-once', many, nowSeconds() + DAY)
  const expired = cacheRowsOf('faults-said-once', many, nowSeconds() - DAY)
  await stack.writeCacheRows({ user: fresh.user, requests: [...expired.requests.slice(0, 2), ...fresh.requests.slice(2)] })
  const staleLines = () => logs().filter((line) => line.msg === 'Alma failed; serving an expired cache copy')
  stack.alma.injectFaults(20, { status: 500, path: /\/requests\/[^/]+$/ })
  const served = await app.inject({ method: 'GET', url: '/users/faults-said-once/requests' })
  t.equal(served.headers['x-cache'], 'stale')
  t.match(staleLines(), [{ stale: 'requests', err: { type: 'AlmaBadGatewayError' } }], 'one line for the two copies')
  t.equal(staleLines().length, 1)

  // One of the two without a copy: the list cannot be whole, and no copy was served.
  const ids = fresh.user.request_ids as string[]
  await stack.writeCacheRows({ user: { ...fresh.user, request_ids: ['uncached1', ...ids.slice(1)] } })
  stack.alma.clearFaults()
  stack.alma.injectFaults(20, { status: 500, path: /\/requests\/[^/]+$/ })
  const before = staleLines().length
  t.equal((await app.inject({ method: 'GET', url: '/users/faults-said-once/requests' })).statusCode, 502)
  t.equal(staleLines().length, before, 'nothing said of copies for an answer that is an error')
})

t.test('a failed Alma call is answered only once the request\'s other Alma calls are over (a Lambda is frozen once it answers)', async (t) => {
  // 101 requests, two not cached: two item calls. One fails for good at once, the other never answers.
  const many = almaUserRecords('faults-settle-items', { loans: 0, requests: 101, fees: 0 })
  stack.alma.addUser({ primary_id: 'faults-settle-items', ...many })
  const rows = cacheRowsOf('faults-settle-items', many, nowSeconds() + DAY)
  await stack.writeCacheRows({ ...rows, requests: rows.requests.slice(2) })
  stack.alma.injectFaults(3, { status: 500, path: new RegExp(`/requests/${String(many.requests[0]?.request_id)}$`) })
  stack.alma.hang(1)
  let started = performance.now()
  t.equal((await get('/users/faults-settle-items/requests')).statusCode, 502)
  t.ok(performance.now() - started >= 290, 'the silent item call had its whole call budget (300 ms) before the failure was answered')

  // get-user: the requests list fails at once, the fees list never answers.
  const two = almaUserRecords('faults-settle-lists', { loans: 0, requests: 1, fees: 1 })
  stack.alma.addUser({ primary_id: 'faults-settle-lists', ...two })
  await stack.writeCacheRows({ user: cacheRowsOf('faults-settle-lists', two, nowSeconds() + DAY).user })
  stack.alma.clearFaults()
  stack.alma.injectFaults(3, { status: 500, path: /\/requests/ })
  stack.alma.hang(1)
  started = performance.now()
  t.equal((await get('/users/faults-settle-lists')).statusCode, 502)
  t.ok(performance.now() - started >= 290, 'the fees call had its whole call budget before the requests failure was answered')

  // get-user for a user the cache does not hold (3.3: Alma's lists, the user queued): the same.
  const uncached = almaUserRecords('faults-settle-uncached', { loans: 0, requests: 1, fees: 1 })
  stack.alma.addUser({ primary_id: 'faults-settle-uncached', ...uncached })
  stack.alma.clearFaults()
  stack.alma.injectFaults(3, { status: 500, path: /\/requests/ })
  stack.alma.hang(1)
  started = performance.now()
  // Which list's failure stands depends on which call the simulator holds (the first of the array's to fail): 502 or 504.
  t.match((await get('/users/faults-settle-uncached')).statusCode, /^50[24]$/)
  t.ok(performance.now() - started >= 290, 'uncached user: the held list call had its whole call budget before the requests failure was answered')
})

t.test('Alma says it is gone, expired copy exists: 404, not the copy (stale is for Alma failing)', async (t) => {
  const gone = almaUserRecords('faults-gone', { loans: 2, requests: 0, fees: 0 })
  const expired = cacheRowsOf('faults-gone', gone, nowSeconds() - DAY)
  // The user record valid, the second loan's copy expired, and Alma without that loan.
  await stack.writeCacheRows({ user: cacheRowsOf('faults-gone', gone, nowSeconds() + DAY).user, loans: expired.loans })
  stack.alma.addUser({ primary_id: 'faults-gone', ...gone, loans: gone.loans.slice(0, 1) })
  t.equal((await get(`/users/faults-gone/loans/${String(gone.loans[1]?.loan_id)}`)).statusCode, 404, 'an item Alma no longer has')

  // Every copy expired, the user record too, and a user Alma no longer knows.
  const unknown = almaUserRecords('faults-unknown', { loans: 1, requests: 1, fees: 1 })
  await stack.writeCacheRows(cacheRowsOf('faults-unknown', unknown, nowSeconds() - DAY))
  for (const url of ['/users/faults-unknown', '/users/faults-unknown/loans', `/users/faults-unknown/fees/${String(unknown.fees[0]?.id)}`]) {
    t.equal((await get(url)).statusCode, 404, `${url}: a user Alma no longer knows`)
  }
})

t.test('Alma never answers, expired copy exists: the copy', async (t) => {
  await stack.writeCacheRows(cacheRowsOf('faults-1', records, nowSeconds() - DAY))
  stack.alma.hang(3)
  const response = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'stale')
})

t.test('Alma keeps answering 429, expired copy exists: the copy', async (t) => {
  await stack.writeCacheRows(cacheRowsOf('faults-1', records, nowSeconds() - DAY))
  stack.alma.injectFaults(20, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '0' })
  const response = await get(`/users/faults-1/loans/${loanID}`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'stale')
  t.equal(response.headers['retry-after'], undefined, 'a 200 owes no Retry-After')
  t.ok(stack.alma.calls.length > 1, 'retried before falling back to the copy')
})

t.test("Alma's daily quota runs out: after its first refusal, expired copies are served at once and the rest refused, with no Alma call", async (t) => {
  // An app of its own: the refusal holds for a while.
  const { app: spent, logs } = await buildTestApp(t)
  const daily = almaUserRecords('faults-daily', { loans: 2, requests: 1, fees: 1 })
  stack.alma.addUser({ primary_id: 'faults-daily', ...daily })
  await stack.writeCacheRows(cacheRowsOf('faults-daily', daily, nowSeconds() - DAY))
  stack.alma.callsPerDay = 1
  t.teardown(() => {
    stack.alma.callsPerDay = undefined
    stack.alma.newDay()
  })
  const [first, second] = daily.loans.map((loan) => `/users/faults-daily/loans/${String(loan.loan_id)}`)
  t.equal((await spent.inject(String(first))).headers['x-cache'], 'miss', 'the last call of the day, answered')
  t.equal((await spent.inject(String(second))).headers['x-cache'], 'stale', 'the copy, once Alma refused')
  t.same(stack.alma.calls.map((call) => call.status), [200, 429])
  for (const url of ['/users/faults-daily', '/users/faults-daily/fees', String(first)]) {
    const copy = await spent.inject(url)
    t.equal(copy.statusCode, 200, url)
    t.equal(copy.headers['x-cache'], 'stale', url)
  }
  const noCopy = await spent.inject('/users/faults-daily-uncached/loans/x1')
  t.equal(noCopy.statusCode, 503)
  t.ok(Number(noCopy.headers['retry-after']) >= 3599, 'told to come back in an hour, as Alma gave no time')
  t.equal(stack.alma.calls.length, 2, 'Alma not asked again')
  const said = (msg: string) => logs().filter((line) => line.msg === msg).map((line) => (line.err as { detail?: unknown } | undefined)?.detail)
  const notAsked = /^Alma not asked: .*DAILY_THRESHOLD/
  t.match(said('Alma failed; serving an expired cache copy'), [/^Alma answered 429 \(DAILY_THRESHOLD\)/, notAsked, notAsked, notAsked, notAsked, notAsked], 'the log says why, for the copies (get-user: one line a list)')
  t.match(said('request failed'), [notAsked], 'and for the 503')
})

t.test('Alma fails for an item with no copy: the error stands', async (t) => {
  // One request of three missing: the per-item path.
  const few = almaUserRecords('faults-item-nocopy', { loans: 0, requests: 3, fees: 0 })
  stack.alma.addUser({ primary_id: 'faults-item-nocopy', ...few })
  const rows = cacheRowsOf('faults-item-nocopy', few, nowSeconds() + DAY)
  await stack.writeCacheRows({ ...rows, requests: rows.requests.slice(0, 2) })
  stack.alma.injectFaults(3, { status: 500 })
  t.equal((await get('/users/faults-item-nocopy/requests')).statusCode, 502)
  t.equal(stack.alma.calls[0]?.path, `/almaws/v1/users/faults-item-nocopy/requests/${String(few.requests[2]?.request_id)}`)

  // An expired user record with an item row gone: no whole stale list either.
  await stack.writeCacheRows({ user: { ...rows.user, expiry_date: nowSeconds() - 1 } })
  stack.alma.injectFaults(3, { status: 500 })
  t.equal((await get('/users/faults-item-nocopy/requests')).statusCode, 502)
})

t.test('a bug is a bare 500: no message, no stack, no path', async (t) => {
  const { app: buggy, rawLogs: buggyLogs } = await buildTestApp(t)
  buggy.get('/boom', async () => { throw new Error('ENOENT: /var/task/secret/config.json') })
  const response = await buggy.inject({ method: 'GET', url: '/boom' })
  t.equal(response.statusCode, 500)
  t.strictSame(response.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  t.equal(response.headers['cache-control'], 'no-store')
  t.match(buggyLogs(), /secret\/config\.json/, 'the internals go to the log')
})

t.test('Alma fails, no copy: the error stands', async (t) => {
  stack.alma.addUser({ primary_id: 'faults-nocopy', loans: [] })
  stack.alma.injectFaults(3, { status: 500 })
  const response = await get('/users/faults-nocopy/loans')
  t.equal(response.statusCode, 502)
})

t.test('a wrong Alma key is 502 with an alarm line, and the key appears nowhere', async (t) => {
  const wrongKey = 'Wr0ngXk7Qp3Zt9Lm5Vb2Nc8'
  stack.alma.addUser({ primary_id: 'faults-key' })
  await withEnv({ ALMA_API_KEY: wrongKey }, async () => {
    const { app: misconfigured, rawLogs: misLogs } = await buildTestApp(t)
    const response = await misconfigured.inject({ method: 'GET', url: '/users/faults-key/loans' })
    t.equal(response.statusCode, 502)
    t.notOk(holdsKeyPart(response.body, wrongKey))
    t.notOk(holdsKeyPart(JSON.stringify(response.headers), wrongKey))
    t.match(misLogs(), /refused the API key/, 'an operator can alarm on this')
    // docs/operations.md's queries and metric filters read the line's own detail.
    const failed = misLogs().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'request failed')
    t.match(failed, { level: 50, detail: /^Alma refused the API key or its permissions \(status 401, code UNAUTHORIZED\)/ })
    t.notOk(holdsKeyPart(misLogs(), wrongKey), 'the wrong key, not even in part')
  })
  t.notOk(holdsKeyPart(rawLogs()), 'nor the good key, in all the failures above')
})

t.test('closing the app closes its keep-alive connections to Alma', async (t) => {
  const alma = await keptAlivePeer(t, (_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"total_record_count":0}') })
  const { app: closing } = await buildTestApp(t, { config: { ...loadConfig(), almaApiUrl: alma.url, almaKey: { key: ALMA_TEST_KEY } } })
  t.equal((await closing.inject({ method: 'GET', url: '/users/faults-closing/fees' })).statusCode, 200)
  t.equal(await alma.openConnections(), 1, 'the connection kept alive after the call')
  await closing.close()
  for (let waited = 0; await alma.openConnections() > 0 && waited < 2000; waited += 50) await sleep(50)
  t.equal(await alma.openConnections(), 0, 'none left open once the app is closed')
})

t.test('closing the app closes its keep-alive connections to DynamoDB and SQS too', async (t) => {
  // One peer for both.
  const aws = await keptAlivePeer(t, emptyAwsAnswer)
  const saved = { dynamo: process.env.AWS_ENDPOINT_URL_DYNAMODB, sqs: process.env.AWS_ENDPOINT_URL_SQS }
  process.env.AWS_ENDPOINT_URL_DYNAMODB = aws.url
  process.env.AWS_ENDPOINT_URL_SQS = aws.url
  t.teardown(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = saved.dynamo; process.env.AWS_ENDPOINT_URL_SQS = saved.sqs })
  const { app: closing } = await buildTestApp(t)
  // No users row: the cache read, then the user queued, each over a connection kept alive.
  await closing.inject({ method: 'GET', url: '/users/faults-closing-aws/fees' })
  t.ok(await aws.openConnections() >= 1, 'connections kept alive after the calls')
  await closing.close()
  for (let waited = 0; await aws.openConnections() > 0 && waited < 2000; waited += 50) await sleep(50)
  t.equal(await aws.openConnections(), 0, 'none left open once the app is closed')
})

t.test('Alma unreachable (a closed port, connections reset): 502, or the expired copies; the key appears nowhere', async (t) => {
  const key = 'Ur3achQx8Zk2Lw7Tm5Pv9Bd4'
  const resetting = createNetServer((socket) => { socket.destroy() })
  await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => resetting.close(resolve)))
  const resetURL = `http://127.0.0.1:${(resetting.address() as AddressInfo).port}`
  await stack.writeCacheRows(cacheRowsOf('faults-2', records, nowSeconds() - DAY))
  for (const almaApiUrl of [await closedPort(), resetURL]) {
    const { app: cutOff, rawLogs: cutOffLogs } = await buildTestApp(t, { config: { ...loadConfig(), almaApiUrl, almaKey: { key } } })
    const failed = await cutOff.inject({ method: 'GET', url: '/users/faults-1/loans' })
    t.same([failed.statusCode, failed.json().message], [502, 'Alma could not be reached'], almaApiUrl)
    const stale = await cutOff.inject({ method: 'GET', url: '/users/faults-2/loans' })
    t.same([stale.statusCode, stale.headers['x-cache']], [200, 'stale'], `${almaApiUrl}: the expired copies`)
    t.match(cutOffLogs(), /"type":"AlmaUnreachableError"[^\n]*"msg":"request failed"/, 'the failure logged, with its cause')
    t.match(cutOffLogs(), /serving an expired cache copy/)
    for (const response of [failed, stale]) t.notOk(holdsKeyPart(response.body + JSON.stringify(response.headers), key))
    t.notOk(holdsKeyPart(cutOffLogs(), key), `${almaApiUrl}: not in the log`)
  }
})

t.test('a wrong Alma key with expired copies: the copies, and still the alarm line', async (t) => {
  const wrongKey = 'Wr0ngYj6Rs4Xu8Kn2Hf7Gd3'
  await stack.writeCacheRows(cacheRowsOf('faults-2', records, nowSeconds() - DAY))
  await withEnv({ ALMA_API_KEY: wrongKey }, async () => {
    const { app: misconfigured, rawLogs: misLogs } = await buildTestApp(t)
    const response = await misconfigured.inject({ method: 'GET', url: '/users/faults-2/loans' })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'stale')
    const staleLines = misLogs().split('\n').filter((line) => line.includes('serving an expired cache copy')).map((line) => JSON.parse(line))
    t.ok(staleLines.length > 0 && staleLines.every((line) => line.level === 50 && /refused the API key/.test(line.err.detail)), 'logged as an error, naming the key')
    t.notOk(holdsKeyPart(misLogs(), wrongKey))
  })

  // Alma merely failing is the warning it was.
  stack.alma.injectFaults(20, { status: 500 })
  const before = rawLogs().length
  t.equal((await get('/users/faults-2/loans')).headers['x-cache'], 'stale')
  t.match(rawLogs().slice(before), /"level":40[^\n]*serving an expired cache copy/)
})

t.test('DynamoDB unreachable: served from Alma as a miss, failure logged', async (t) => {
  const rows = cacheRowsOf('faults-1', records, nowSeconds() + DAY)
  await stack.writeCacheRows(rows)
  await withEnv({ AWS_ENDPOINT_URL_DYNAMODB: await closedPort() }, async () => {
    const { app: noCache, rawLogs: noCacheLogs } = await buildTestApp(t)
    const response = await noCache.inject({ method: 'GET', url: '/users/faults-1' })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['x-cache'], 'miss', 'valid rows exist, but the cache cannot be read')
    t.match(noCacheLogs(), /cache read failed/)
    const item = await noCache.inject({ method: 'GET', url: `/users/faults-1/loans/${loanID}` })
    t.equal(item.statusCode, 200)
    t.equal(item.headers['x-cache'], 'miss')
  })
})

t.test('SQS unreachable: 200 all the same, failure logged', async (t) => {
  await withEnv({ AWS_ENDPOINT_URL_SQS: await closedPort() }, async () => {
    const { app: noQueue, rawLogs: noQueueLogs } = await buildTestApp(t)
    const response = await noQueue.inject({ method: 'GET', url: '/users/faults-2/fees' })
    t.equal(response.statusCode, 200)
    t.match(noQueueLogs(), /could not queue the user/)
  })
})

t.test('the key from SSM: read once, a failure retried on the next request', async (t) => {
  const ssm = await startSsmPeer(ALMA_TEST_KEY)
  t.teardown(() => ssm.close())
  ssm.mode = 'fail'

  const fromSsm = await withEnv(keyFromSsm(ssm), async () => {
    const built = await buildTestApp(t)
    // The SSM client is made on first use, so the endpoint must stay set until then.
    const failed = await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })
    t.equal(failed.statusCode, 502)
    t.same(failed.json().message, 'The service could not read its Alma API key')
    // Without its key the service cannot ask Alma, as when Alma fails: an expired copy serves (3.7), and the key is an alarm.
    await stack.writeCacheRows(cacheRowsOf('faults-ssm-stale', records, nowSeconds() - DAY))
    const logged = built.rawLogs().length
    const stale = await built.app.inject({ method: 'GET', url: `/users/faults-ssm-stale/loans/${loanID}` })
    t.equal(stale.statusCode, 200, 'an expired copy: served')
    t.equal(stale.headers['x-cache'], 'stale')
    t.match(built.rawLogs().slice(logged), /"level":50,[^\n]*"type":"AlmaKeyUnreadableError"[^\n]*"msg":"Alma failed; serving an expired cache copy"/, 'logged as an error')
    ssm.mode = 'no-value'
    t.equal((await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })).statusCode, 502, 'a parameter without a value')
    ssm.mode = 'empty'
    stack.alma.resetCalls()
    const loggedBeforeEmpty = built.rawLogs().length
    const empty = await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })
    t.same(empty.json().message, 'The service could not read its Alma API key', 'a parameter with an empty value')
    t.match(built.rawLogs().slice(loggedBeforeEmpty), /SSM parameter \/alma\/api-key has no value/, 'logged as having no value, not as holding characters no key has')
    t.equal(stack.alma.calls.length, 0, 'no Alma call with an empty key')
    ssm.mode = 'answer'
    ssm.value = ' \n'
    t.equal((await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })).statusCode, 502, 'a value of blanks only')
    for (const inside of ['\n', '\u200b', ' ']) {
      ssm.value = `${ALMA_TEST_KEY.slice(0, 4)}${inside}${ALMA_TEST_KEY.slice(4)}`
      const refused = await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })
      t.equal(refused.statusCode, 502, `a value holding ${JSON.stringify(inside)}`)
      // A failed read (tried again next time), not a key kept and failing every Alma call.
      t.equal(refused.json().message, 'The service could not read its Alma API key', `${JSON.stringify(inside)}: the read failed`)
      // The refused value is a key all the same, mistyped: the error names the parameter, never what it holds.
      t.notOk(holdsKeyPart(built.rawLogs()), `${JSON.stringify(inside)}: no part of the value logged`)
    }
    t.equal(stack.alma.calls.length, 0, 'no Alma call with either')
    ssm.value = `${ALMA_TEST_KEY}\n`
    ssm.version = 7
    t.notMatch(built.rawLogs(), /Alma API key read/, 'no read logged before one succeeds')
    const first = await built.app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })
    t.equal(first.statusCode, 200, 'the failure was not cached; a key stored with its newline is used without it')
    return built
  })
  const again = await fromSsm.app.inject({ method: 'GET', url: '/users/faults-ssm/requests' })
  t.equal(again.statusCode, 200)
  t.ok(ssm.asked.every(({ target, name, withDecryption }) =>
    target === 'AmazonSSM.GetParameter' && name === '/alma/api-key' && withDecryption === true), 'GetParameter, with decryption')
  const successful = ssm.asked.length
  await fromSsm.app.inject({ method: 'GET', url: '/users/faults-ssm/loans' })
  t.equal(ssm.asked.length, successful, 'read once per process')
  // After a rotation, the version read tells which containers have the new key.
  const reads = fromSsm.rawLogs().split('\n').filter((line) => line.includes('Alma API key read from SSM'))
  t.equal(reads.length, 1, 'the read logged once')
  t.match(JSON.parse(reads[0] as string), { level: 30, parameterName: '/alma/api-key', parameterVersion: 7 }, 'with the parameter and the version read')
  // A line of the request that read it, as every line is (in Lambda: API Gateway's and Lambda's request IDs).
  const readBy = JSON.parse(reads[0] as string).reqId
  t.type(readBy, 'string', 'with the request ID of the request that read it')
  t.ok(fromSsm.rawLogs().split('\n').some((line) => line.includes('"request summary"') && line.includes('"status":200') && JSON.parse(line).reqId === readBy), 'the request answered with the key read')
  t.notOk(holdsKeyPart(fromSsm.rawLogs()), 'never the key')
  // Its client is closed once it has read: no socket kept open to SSM for the life of the process.
  for (let waited = 0; await ssm.openConnections() > 0 && waited < 2000; waited += 50) await sleep(50)
  t.equal(await ssm.openConnections(), 0, 'no connection left open to SSM')
})

for (const mode of ['hang', 'stall'] as const) {
  t.test(`the key from SSM, which ${mode === 'hang' ? 'never answers' : 'stalls in its body'}: the read is given up by its own bounds, and a later request reads the key`, async (t) => {
    const ssm = await startSsmPeer(ALMA_TEST_KEY)
    t.teardown(() => ssm.close())
    ssm.mode = mode
    await withEnv({ ...keyFromSsm(ssm), ...ONE_SECOND_BUDGET }, async () => {
      const { app } = await buildTestApp(t)
      t.equal((await app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })).statusCode, 504)
      // SSM answers from now on; the read under way is still the silent one, which its
      // bounds end (attempts of 3 s, 7 s in all), never a socket's idle timeout of minutes.
      ssm.mode = 'answer'
      const started = Date.now()
      let status = 0
      while (status !== 200 && Date.now() - started < 30_000) {
        status = (await app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })).statusCode
        if (status !== 200) await sleep(250)
      }
      t.equal(status, 200, `the key read after ${Date.now() - started} ms (bounds of 7 s; 30 s allowed)`)
    })
  })
}

t.test('the key from SSM, which never answers: 504 by the request budget; the read goes on for the next request', async (t) => {
  const ssm = await startSsmPeer(ALMA_TEST_KEY)
  t.teardown(() => ssm.close())
  ssm.mode = 'hang'
  await withEnv({ ...keyFromSsm(ssm), ...ONE_SECOND_BUDGET }, async () => {
    const { app } = await buildTestApp(t)
    const started = Date.now()
    const response = await app.inject({ method: 'GET', url: '/users/faults-ssm/fees' })
    const elapsed = Date.now() - started
    t.equal(response.statusCode, 504)
    t.same(response.json().message, 'The service could not read its Alma API key in time')
    // SSM's own bounds would end the read after 7 s.
    t.ok(elapsed < 3000, `answered in ${elapsed} ms, by the budget of 1000 ms`)
    t.equal(ssm.asked.length, 1)
    t.equal(stack.alma.calls.length, 0, 'no Alma call without the key')
    const second = await app.inject({ method: 'GET', url: '/users/faults-ssm/requests' })
    t.equal(second.statusCode, 504)
    t.equal(ssm.asked.length, 1, 'the next request waits on the same read')
    await stack.writeCacheRows(cacheRowsOf('faults-ssm-late', records, nowSeconds() - DAY))
    const stale = await app.inject({ method: 'GET', url: '/users/faults-ssm-late/loans' })
    t.equal(stale.statusCode, 200, 'expired copies: served when the key is late too')
    t.equal(stale.headers['x-cache'], 'stale')
  })
})
