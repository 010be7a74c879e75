import { createServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { keptAlivePeer } from './support/sockets.js'
import { AlmaSimulator, type InjectedFault } from '../dev/alma-simulator.js'
import { almaUserRecords } from '../dev/demo-records.js'
import { AlmaClient, parseRetryAfter } from '../src/clients/alma.js'
import { AlmaBadGatewayError, AlmaKeyRefusedError, AlmaThrottledError, AlmaTimeoutError, AlmaUnreachableError, NotFoundError, UnavailableError } from '../src/errors.js'
import { holdRandomAt } from './support/hold-random.js'

// The Alma client against the simulator, over HTTP: what each Alma answer becomes.

const KEY = 'client-test-key'
const alma = await AlmaSimulator.start({ apiKey: KEY })
t.teardown(() => alma.close())
const client = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, retryBaseDelayMs: 5, callTimeoutMs: 500 })
t.teardown(() => client.close())
const soon = () => Date.now() + 5000
/** A client of the test's own, for a test that leaves one paused: a daily threshold's refusal stops a client's calls for a while. */
const ownClient = (t: Test): AlmaClient => {
  const own = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, retryBaseDelayMs: 5 })
  t.teardown(() => own.close())
  return own
}

const records = almaUserRecords('client-1', { loans: 250, requests: 0, fees: 3 })
alma.addUser({ primary_id: 'client-1', ...records })

t.beforeEach(() => {
  alma.clearFaults()
  alma.resetCalls()
})

t.test('lists follow total_record_count, pages fetched at once after the first', async (t) => {
  t.strictSame(await client.list('loans', 'client-1', soon()), records.loans)
  t.same(alma.calls.map((call) => call.query.offset), ['0', '100', '200'])
  t.ok(alma.calls.every((call) => call.query.expand === 'renewable'), 'loans asked with their renewable flag')
  t.same(await client.list('requests', 'client-1', soon()), [], 'an absent list key is an empty list')
  t.strictSame(await client.list('fees', 'client-1', soon()), records.fees, 'fees are not paged')
  await t.rejects(client.list('loans', 'nobody', soon()), NotFoundError)
})

t.test('a total that changes while the pages are read: the list is read again', async (t) => {
  // Grown: a loan made between the first page and the second.
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 150 }) })
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(100, 200), total_record_count: 250 }) })
  t.strictSame(await client.list('loans', 'client-1', soon()), records.loans, 'all 250, each once')
  t.same(alma.calls.map((call) => call.query.offset), ['0', '100', '0', '100', '200'])

  // Shrunk: loan 5 returned after the first page was read, so every later loan
  // moved a place up, and loan 100 onto the page already read.
  const before = records.loans.slice(0, 150)
  const after = before.filter((_, index) => index !== 5)
  alma.resetCalls()
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: before.slice(0, 100), total_record_count: 150 }) })
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: after.slice(100), total_record_count: 149 }) })
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: after.slice(0, 100), total_record_count: 149 }) })
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: after.slice(100), total_record_count: 149 }) })
  const list = await client.list('loans', 'client-1', soon())
  t.same(list, after, 'the second read: loan 100 kept, the returned loan gone')
  t.equal(alma.calls.length, 4)
})

t.test('a page that does not fit fails its read, whatever pages answer after it', async (t) => {
  // 300 loans, read two pages at a time: the page at 100 answers at once with another
  // total (a loan made meanwhile), the page at 200 later with the first total. The read is
  // lost all the same, and the list read again.
  const loans = almaUserRecords('client-moving', { loans: 300, requests: 0, fees: 0 }).loans
  const made = { ...loans[0], loan_id: 'made-meanwhile' }
  let reads = 0
  const offsets: string[] = []
  const moving = createServer((request, response) => {
    const offset = Number(new URL(request.url ?? '', 'http://alma').searchParams.get('offset'))
    offsets.push(String(offset))
    if (offset === 0) reads++
    const answer = (body: unknown) => { response.setHeader('content-type', 'application/json').end(JSON.stringify(body)) }
    if (reads === 1 && offset === 100) answer({ item_loan: [made, ...loans.slice(100, 199)], total_record_count: 301 })
    else if (reads === 1 && offset === 200) setTimeout(() => { answer({ item_loan: loans.slice(200), total_record_count: 300 }) }, 150)
    else answer({ item_loan: loans.slice(offset, offset + 100), total_record_count: 300 })
  })
  await new Promise<void>((resolve) => moving.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => moving.close(resolve)))
  const pair = new AlmaClient({ baseUrl: `http://127.0.0.1:${(moving.address() as AddressInfo).port}`, readApiKey: async () => KEY, maxConnections: 2 })
  t.teardown(() => pair.close())
  t.same(await pair.list('loans', 'client-moving', soon()), loans, 'the second read, whole')
  t.equal(reads, 2, 'read twice')
  t.same(offsets.slice(3), ['0', '100', '200'])
})

t.test('a list that changes on every read is a 502, after three reads', async (t) => {
  for (let read = 0; read < 3; read++) {
    alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 150 + read }) })
    alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(100, 150), total_record_count: 160 + read }) })
  }
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError)
  t.equal(alma.calls.length, 6)
})

t.test('a record on two pages of equal totals: the list is read again', async (t) => {
  // Loan 99 moved a place down between the reads of the two pages (one made meanwhile
  // and one returned): it is on both, the total did not change, and one loan was never read.
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 150 }) })
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(99, 149), total_record_count: 150 }) })
  t.strictSame(await client.list('loans', 'client-1', soon()), records.loans, 'the second read, whole')
  t.same(alma.calls.map((call) => call.query.offset), ['0', '100', '0', '100', '200'])
  // The same record twice on one page: one answer, nothing moved; kept once, not read again.
  alma.resetCalls()
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: [records.loans[0], ...records.loans.slice(0, 99)], total_record_count: 250 }) })
  t.strictSame(await client.list('loans', 'client-1', soon()), [...records.loans.slice(0, 99), ...records.loans.slice(100)])
  t.equal(alma.calls.length, 3)
  // So in the fee list, which is one answer too: a fee counted twice would be paid twice.
  const [fee1, fee2] = records.fees
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ fee: [fee1, fee1, fee2], total_record_count: 3 }) })
  t.strictSame(await client.list('fees', 'client-1', soon()), [fee1, fee2])
})

t.test('short pages are what Alma has: the pages after them are read all the same, and kept', async (t) => {
  // 450 loans, the first page short (90 of 100): the next page alone, then the other three at once.
  const timed = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 200 })
  t.teardown(() => timed.close())
  const loans = almaUserRecords('client-short', { loans: 450, requests: 0, fees: 0 }).loans
  timed.addUser({ primary_id: 'client-short', loans, requests: [], fees: [] })
  const wide = new AlmaClient({ baseUrl: timed.url, readApiKey: async () => KEY })
  t.teardown(() => wide.close())
  timed.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: loans.slice(0, 90), total_record_count: 450 }) })
  t.same(await wide.list('loans', 'client-short', soon()), [...loans.slice(0, 90), ...loans.slice(100)], 'what Alma gave, each once')
  t.same(timed.calls.slice(0, 2).map((call) => call.query.offset), ['0', '100'])
  t.same(timed.calls.slice(2).map((call) => call.query.offset).sort(), ['200', '300', '400'])
  t.equal(timed.maxConcurrentCalls, 3, 'the page after the short one alone, then the rest at once')

  // Records without an ID are kept, however many.
  alma.resetCalls()
  const withoutID = records.loans.slice(0, 3).map(({ loan_id: _, ...loan }, index) => index === 2 ? { ...loan, loan_id: null } : loan)
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: withoutID, total_record_count: 3 }) })
  t.same(await client.list('loans', 'client-1', soon()), withoutID)
  t.equal(alma.calls.length, 1)
})

t.test('a call waiting for a free connection does not spend its time limit waiting', async (t) => {
  // Three item calls at once through one connection: the third waits two calls' time
  // (400 ms) for its turn, more than its 450 ms limit leaves after its own 200 ms.
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 200 })
  t.teardown(() => slow.close())
  const three = almaUserRecords('client-4', { loans: 3, requests: 0, fees: 0 })
  slow.addUser({ primary_id: 'client-4', ...three })
  const narrow = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 450 })
  t.teardown(() => narrow.close())
  const ids = three.loans.map((loan) => String(loan.loan_id))
  const loans = await Promise.all(ids.map((id) => narrow.item('loans', 'client-4', id, soon())))
  t.same(loans.map((loan) => loan?.loan_id), ids, 'each answered, the last after waiting 400 ms for its turn')
  t.equal(slow.calls.length, 3)
  t.equal(slow.maxConcurrentCalls, 1)
})

t.test('a list is paged however long it is', async (t) => {
  alma.addUser({ primary_id: 'client-long', ...almaUserRecords('client-long', { loans: 5001, requests: 0, fees: 0 }) })
  const list = await client.list('loans', 'client-long', soon())
  t.equal(list.length, 5001)
  t.equal(new Set(list.map((loan) => loan.loan_id)).size, 5001, 'each loan once')
  t.equal(alma.calls.length, 51, 'every page, once')
})

t.test('pages that do not bear out the first page\'s total are not all asked for', async (t) => {
  // Two in flight at a time, so that the calls made are certain.
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 2, retryBaseDelayMs: 5, callTimeoutMs: 500 })
  t.teardown(() => narrow.close())
  const claimed = { item_loan: records.loans.slice(0, 3), total_record_count: 1_000_000 }

  // Another total on the next page (the user's real 250): read again, whole this time.
  // After a short first page, the next one alone; after a full one, two in flight.
  alma.injectFaults(1, { status: 200, body: JSON.stringify(claimed) })
  t.strictSame(await narrow.list('loans', 'client-1', soon()), records.loans)
  const offsets = alma.calls.map((call) => call.query.offset)
  t.same([offsets.slice(0, 2), offsets.slice(2).sort()], [['0', '100'], ['0', '100', '200']], 'one page after the short one, then the real list')

  // The same total over empty pages, on every read: a 502 after three reads of two calls each, not 10,000 calls.
  alma.resetCalls()
  for (let read = 0; read < 3; read++) {
    alma.injectFaults(1, { status: 200, body: JSON.stringify(claimed) })
    alma.injectFaults(1, { status: 200, body: JSON.stringify({ total_record_count: 1_000_000 }) })
  }
  const refused = await narrow.list('loans', 'client-1', soon()).catch((error: unknown) => error)
  t.type(refused, AlmaBadGatewayError)
  t.match((refused as AlmaBadGatewayError).detail, /did not read whole on each of 3 reads \(the last: no records at offset 100 of 1000000\)/)
  t.equal(alma.calls.length, 6)

  // The same page whatever the offset: no page is empty and the total holds, but nothing new comes.
  alma.resetCalls()
  alma.injectFaults(9, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 1_000_000 }) })
  const repeated = await narrow.list('loans', 'client-1', soon()).catch((error: unknown) => error)
  t.match((repeated as AlmaBadGatewayError).detail, /\(the last: a record already read, at offset [12]00\)/)
  t.equal(alma.calls.length, 9, 'three reads of three calls')

  // The same page whatever the offset, of records without IDs: nothing new read, a 502 all the same.
  alma.resetCalls()
  const withoutIDs = records.loans.slice(0, 100).map(({ loan_id: _, ...loan }) => loan)
  alma.injectFaults(9, { status: 200, body: JSON.stringify({ item_loan: withoutIDs, total_record_count: 1_000_000 }) })
  const anonymous = await narrow.list('loans', 'client-1', soon()).catch((error: unknown) => error)
  t.match((anonymous as AlmaBadGatewayError).detail, /\(the last: no record IDs at offset [12]00\)/)
  t.equal(alma.calls.length, 9, 'three reads of three calls')

  // An empty first page under a total: read again.
  alma.resetCalls()
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ total_record_count: 250 }) })
  t.strictSame(await narrow.list('loans', 'client-1', soon()), records.loans)
  t.equal(alma.calls.length, 4)
})

t.test('after a page fails, the pages still waiting are not asked for', async (t) => {
  const single = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 1, maxRetries: 0, callTimeoutMs: 500 })
  t.teardown(() => single.close())
  alma.addUser({ primary_id: 'client-5', ...almaUserRecords('client-5', { loans: 450, requests: 0, fees: 0 }) })
  // The second page fails: the three after it are turned away, and the error is the page's own.
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 450 }) })
  alma.injectFaults(1, { status: 500 })
  const refused = await single.list('loans', 'client-5', soon()).catch((error: unknown) => error)
  t.match((refused as AlmaBadGatewayError).detail, /^status 500\b/, 'the failed page\'s own error')
  t.same(alma.calls.map((call) => call.query.offset), ['0', '100'])
})

t.test('a page waiting for its turn behind other calls is not made once the list is lost', async (t) => {
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 2, retryBaseDelayMs: 5, callTimeoutMs: 3000 })
  t.teardown(() => narrow.close())
  // Another request's call holds one of the two connections throughout.
  alma.hang(1)
  const held = narrow.item('loans', 'client-1', 'x1', Date.now() + 2000).catch((error: unknown) => error)
  while (alma.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  for (let read = 0; read < 3; read++) {
    // A full first page: two readers, the second one's page queued behind the held call.
    alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 1_000_000 }) })
    alma.injectFaults(1, { status: 200, body: JSON.stringify({ total_record_count: 1_000_000 }) })
  }
  await t.rejects(narrow.list('loans', 'client-1', soon()), AlmaBadGatewayError)
  t.same(alma.calls.slice(1).map((call) => call.query.offset), ['0', '100', '0', '100', '0', '100'],
    'each read: the first page, then one page; the other reader\'s page, queued meanwhile, never made')
  t.type(await held, AlmaTimeoutError)
})

t.test('a page waiting to retry is not waited for once another page has failed the list', async (t) => {
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 2, retryBaseDelayMs: 5, callTimeoutMs: 500 })
  t.teardown(() => narrow.close())
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 300 }) })
  // Of the two pages in flight, one is told to come back in 4 s, the other fails for good.
  alma.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '4' })
  alma.injectFaults(1, { status: 400, errorCode: '401652' })
  const started = Date.now()
  const refused = await narrow.list('loans', 'client-1', Date.now() + 10_000).catch((error: unknown) => error)
  t.match((refused as AlmaBadGatewayError).detail, /unexpected status 400 code 401652/, 'the failed page\'s error')
  t.ok(Date.now() - started < 3000, `answered without waiting out the Retry-After (${Date.now() - started} ms)`)
  t.equal(alma.calls.length, 3, 'and the retry was not made')
})

t.test('a failed page answers only once the other pages are over', async (t) => {
  const once = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxRetries: 0, callTimeoutMs: 300 })
  t.teardown(() => once.close())
  // A first page announcing three; of the next two, one fails at once and one never answers.
  alma.injectFaults(1, { status: 200, body: JSON.stringify({ item_loan: records.loans.slice(0, 100), total_record_count: 300 }) })
  alma.injectFaults(1, { status: 500 })
  alma.hang(1)
  const started = performance.now()
  await t.rejects(once.list('loans', 'client-1', soon()))
  t.ok(performance.now() - started >= 290, 'the silent page had its whole call budget before the failure was answered')
})

t.test('unusable answers are 502s', async (t) => {
  alma.injectFaults(1, { status: 200, body: '{"item_loan": []}' })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError, 'no total_record_count')
  // The fee list, not paged, is a list body all the same: without its total it is not "no fees".
  for (const body of ['{}', '{"errorsExist":true,"errorList":{"error":[{"errorCode":"401652","errorMessage":"General Error"}]},"result":null}']) {
    alma.injectFaults(1, { status: 200, body })
    await t.rejects(client.list('fees', 'client-1', soon()), { name: 'AlmaBadGatewayError', detail: 'list of fees without a usable total_record_count' }, `a fee list of status 200: ${body}`)
  }
  // Nor is one whose total promises fees it does not hold (under another key, say), as a paged list's first page is not.
  for (const body of ['{"total_record_count": 2, "total_sum": 3, "currency": "GBP"}', JSON.stringify({ fees: records.fees, total_record_count: 3 })]) {
    alma.injectFaults(1, { status: 200, body })
    await t.rejects(client.list('fees', 'client-1', soon()), { name: 'AlmaBadGatewayError', detail: 'list of fees with no records where its total promises some' }, `a fee list of status 200: ${body.slice(0, 40)}`)
  }
  alma.injectFaults(1, { status: 200, body: '{"item_loan": "one", "total_record_count": 1}' })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError, 'list is not an array of objects')
  alma.injectFaults(1, { status: 200, body: '[1, 2]' })
  await t.rejects(client.item('loans', 'client-1', 'x1', soon()), AlmaBadGatewayError, 'not an object')
  // An error body, or an empty object, with status 200: no record to pass on as the caller's.
  alma.injectFaults(1, { status: 200, body: '{"errorsExist":true,"errorList":{"error":[{"errorCode":"401823"}]}}' })
  await t.rejects(client.item('loans', 'client-1', 'x1', soon()), { name: 'AlmaBadGatewayError', detail: 'status 200 with a body that has no loan_id' })
  alma.injectFaults(1, { status: 200, body: '{"id": null, "balance": 1}' })
  await t.rejects(client.item('fees', 'client-1', 'x1', soon()), { name: 'AlmaBadGatewayError', detail: 'status 200 with a body that has no id' })
  // Another record than the one asked for (another user's, maybe) is no answer for it either.
  alma.injectFaults(1, { status: 200, body: JSON.stringify(records.loans[1]) })
  await t.rejects(client.item('loans', 'client-1', String(records.loans[0]?.loan_id), soon()), { name: 'AlmaBadGatewayError', detail: 'status 200 with a record whose loan_id is not the one asked for' })
  // Nested deeper than any record of Alma's: the answer's JSON.stringify would overflow its stack (a 500) some thousands of levels down.
  const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)
  alma.injectFaults(1, { status: 200, body: `{"loan_id": "x1", "title": ${nested(5000)}}` })
  await t.rejects(client.item('loans', 'client-1', 'x1', soon()), { name: 'AlmaBadGatewayError', detail: 'status 200 with a body nested over 64 levels deep' })
  alma.injectFaults(1, { status: 200, body: `{"item_loan": [{"loan_id": "1", "title": ${nested(63)}}], "total_record_count": 1}` })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError, 'a list body: 65 levels with the page around the record')
  // 64 levels, and brackets and escaped quotes inside strings, which nest nothing.
  const deepest = { loan_id: 'x1', title: '[[{{"\\"[{', description: JSON.parse(nested(63)) as unknown }
  alma.injectFaults(1, { status: 200, body: JSON.stringify(deepest) })
  t.strictSame(await client.item('loans', 'client-1', 'x1', soon()), deepest, '64 levels are kept')
  // An escaped quote does not end its string: the brackets after it are text, however many.
  const quoted = { loan_id: 'x1', title: `"${'['.repeat(64)}` }
  alma.injectFaults(1, { status: 200, body: JSON.stringify(quoted) })
  t.strictSame(await client.item('loans', 'client-1', 'x1', soon()), quoted, 'brackets after an escaped quote nest nothing')
  alma.injectFaults(1, { status: 200, body: '{"item_loan": [], "total_record_count": -1}' })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError, 'a negative total_record_count')
  alma.injectFaults(1, { status: 404, body: 'Not Found' })
  await t.rejects(client.item('loans', 'client-1', 'x1', soon()), AlmaBadGatewayError, 'a 404 that is not Alma speaking')
  // JSON from whatever stands at a wrong ALMA_API_URL (a gateway, a proxy): no
  // errorsExist, so not Alma's word that the item is not there.
  for (const [status, body] of [[404, '{"message":"Not Found"}'], [400, '{"errorsExist":false,"errorList":{"error":[{"errorCode":"401823"}]}}']] as const) {
    alma.injectFaults(1, { status, body })
    await t.rejects(client.item('loans', 'client-1', 'x1', soon()), AlmaBadGatewayError, `${status} ${body}: not Alma speaking`)
  }
  alma.injectFaults(1, { status: 400, errorCode: '401666' })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaBadGatewayError, 'on a list, only user codes mean not found')
  alma.injectFaults(1, { status: 403, body: 'Forbidden' })
  await t.rejects(client.list('loans', 'client-1', soon()), AlmaKeyRefusedError, 'a refused key, however it is worded')
  alma.injectFaults(1, { status: 302, body: '' })
  await t.rejects(client.item('fees', 'client-1', 'x1', soon()), AlmaBadGatewayError)
})

t.test('a JSON array is no record: not an item body, nor a record in a list', async (t) => {
  // An array is an object to typeof: read as a record, it would pass for one with no fields.
  alma.injectFaults(1, { status: 200, body: '[]' })
  await t.rejects(client.item('fees', 'client-1', 'x1', soon()), { name: 'AlmaBadGatewayError', detail: 'status 200 with a body that is not a JSON object (2 bytes)' })
  alma.injectFaults(1, { status: 200, body: '{"fee": [[]], "total_record_count": 1}' })
  await t.rejects(client.list('fees', 'client-1', soon()), { name: 'AlmaBadGatewayError', detail: 'list body whose fee is not an array of objects' })
})

t.test('on a list, an item\'s not-found code is not "no such user": 502', async (t) => {
  for (const code of ['401823', '401665', '401907']) {
    alma.injectFaults(1, { status: 400, errorCode: code })
    const error = await client.list('loans', 'client-1', soon()).catch((e: unknown) => e)
    t.type(error, AlmaBadGatewayError, `400 ${code} on a list`)
    t.notOk(error instanceof AlmaKeyRefusedError, `400 ${code} on a list is not about the key`)
    t.equal((error as AlmaBadGatewayError).statusCode, 502)
  }
  // A user code means "no such user" only at a 4xx status.
  alma.injectFaults(1, { status: 302, errorCode: '401861' })
  const redirected = await client.list('loans', 'client-1', soon()).catch((e: unknown) => e)
  t.type(redirected, AlmaBadGatewayError, '302 with a user code on a list')
  t.equal((redirected as AlmaBadGatewayError).statusCode, 502)
  t.equal(alma.calls.length, 4, 'none of them retried')
})

t.test('only an error code of the form of Alma\'s goes into the log: the field is an upstream body\'s, which may say anything', async (t) => {
  alma.injectFaults(1, { status: 500, errorCode: 'no loans for client-1' })
  alma.injectFaults(1, { status: 500, errorCode: '401652' })
  const tooSpoken = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxRetries: 0, callTimeoutMs: 500 })
  t.teardown(() => tooSpoken.close())
  const details = []
  for (let i = 0; i < 2; i++) details.push(await tooSpoken.list('loans', 'client-1', soon()).catch((error: unknown) => (error as AlmaBadGatewayError).detail))
  t.strictSame(details, ['status 500', 'status 500 code 401652'])
})

t.test('Alma error bodies in their variants', async (t) => {
  alma.injectFaults(1, { status: 400, body: '{"errorsExist":true,"errorList":{"error":{"errorCode":"401861","errorMessage":"no user"}}}' })
  await t.rejects(client.list('loans', 'client-1', soon()), NotFoundError, 'a single error as an object, not a list')
  alma.injectFaults(1, { status: 404, errorCode: '401890' })
  await t.rejects(client.list('loans', 'client-1', soon()), NotFoundError, '404 with a user code')
  alma.injectFaults(1, { status: 400, errorCode: '401651' })
  await t.rejects(client.list('fees', 'client-1', soon()), NotFoundError, "401651, the fee calls' \"identifier not found\"")
  alma.injectFaults(1, { status: 403, errorCode: '401861' })
  await t.rejects(client.list('loans', 'client-1', soon()), NotFoundError, '403 with a user code: the code decides')
  alma.injectFaults(1, { status: 401, errorCode: '401861' })
  t.equal(await client.item('loans', 'client-1', 'x1', soon()), undefined, '401 with a user code, on an item: not there for this user')
  alma.injectFaults(1, { status: 404, errorCode: '401823' })
  t.equal(await client.item('loans', 'client-1', 'x1', soon()), undefined, '404 with an item code: not there')
  for (const [status, code] of [[400, 'UNAUTHORIZED'], [401, 'INVALID_REQUEST'], [400, '60258']] as const) {
    alma.injectFaults(1, { status, errorCode: code })
    await t.rejects(client.item('loans', 'client-1', 'x1', soon()), AlmaKeyRefusedError, `${status} ${code}: a key error is never "not there"`)
    alma.injectFaults(1, { status, errorCode: code })
    await t.rejects(client.list('loans', 'client-1', soon()), AlmaKeyRefusedError, `${status} ${code}: nor "no such user"`)
  }
  alma.injectFaults(1, { status: 400, body: '{"errorsExist":true}' })
  t.equal(await client.item('loans', 'client-1', 'x1', soon()), undefined, 'an item error without a list is still "not there"')
  for (const [status, code, kind] of [[403, '401823', 'loans'], [401, '401665', 'fees'], [403, '401907', 'requests']] as const) {
    alma.injectFaults(1, { status, errorCode: code })
    t.equal(await client.item(kind, 'client-1', 'x1', soon()), undefined, `${status} with ${code}, an item's not-found code: not there`)
  }
  alma.injectFaults(1, { status: 404, errorCode: '401652' })
  t.equal(await client.item('loans', 'client-1', 'x1', soon()), undefined, '404 with any other code, on an item: not there')
  alma.injectFaults(1, { status: 403, errorCode: '401652' })
  await t.rejects(client.item('loans', 'client-1', 'x1', soon()), AlmaKeyRefusedError, '403 with a code that says nothing of the item: the key')
})

t.test('a call still waiting for its turn at its deadline: 504 then, and no call made late', async (t) => {
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 1000 })
  t.teardown(() => slow.close())
  slow.addUser({ primary_id: 'client-1', ...records })
  const narrow = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 2000 })
  t.teardown(() => narrow.close())
  const id = String(records.fees[0]?.id)
  const first = narrow.item('fees', 'client-1', id, soon())
  const started = performance.now()
  // Whether Alma had answered the first call (which holds the only connection) is read the moment the second fails:
  // the order of the two events, not an elapsed time a busy machine can stretch.
  const answered = () => (slow.calls[0]?.status ?? 0) !== 0
  const waiting = await narrow.item('fees', 'client-1', id, Date.now() + 300).then(
    () => ({ error: undefined, firstAnswered: answered() }),
    (error: unknown) => ({ error, firstAnswered: answered() }))
  t.type(waiting.error, AlmaTimeoutError)
  t.notOk(waiting.firstAnswered, `answered after ${Math.round(performance.now() - started)} ms, not when the first call let go of the connection`)
  t.ok(await first)
  t.equal(slow.calls.length, 1, 'the late call was never made')
})

t.test('a call abandoned at its deadline frees its turn and its connection then', async (t) => {
  // One connection, and a call budget longer than both deadlines: only the
  // request's deadline can end the first call in time for the second.
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 5000, retryBaseDelayMs: 5 })
  t.teardown(() => narrow.close())
  const id = String(records.fees[0]?.id)
  alma.hang(1)
  const abandoned = await narrow.item('fees', 'client-1', id, Date.now() + 200).catch((e: unknown) => e)
  t.type(abandoned, AlmaTimeoutError)
  t.equal((abandoned as AlmaTimeoutError).statusCode, 504)
  t.ok(await narrow.item('fees', 'client-1', id, Date.now() + 1500), 'the next call has the connection in time')
  t.same(alma.calls.map((call) => call.status), [-1, 200])
})

t.test('a retry is judged by how long the call took, not by its wait for a turn', async (t) => {
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 1500, retryBaseDelayMs: 5 })
  t.teardown(() => narrow.close())
  const id = String(records.fees[0]?.id)
  // The first call holds the only connection for 1.5 s; the second, refused once in a few
  // milliseconds when its turn comes, still has a second of its 2.5 s for a retry.
  alma.hang(1)
  alma.injectFaults(1, { status: 503 })
  const held = narrow.item('fees', 'client-1', id, soon()).catch((error: unknown) => error)
  t.ok(await narrow.item('fees', 'client-1', id, Date.now() + 2500))
  t.type(await held, AlmaTimeoutError)
  t.same(alma.calls.map((call) => call.status), [-1, 503, 200])
})

t.test('a retry still waiting for its turn at the deadline: the refusal stands (503 with its Retry-After), not a 504', async (t) => {
  // One connection. The first call is refused (429, come back in 1 s); a second call
  // takes the connection meanwhile and hangs, so the retry, judged to have time, waits
  // for a turn until the deadline: Alma was never late, it said when to come back.
  const narrow = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 5000, retryBaseDelayMs: 5 })
  t.teardown(() => narrow.close())
  const id = String(records.fees[0]?.id)
  alma.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '1' })
  alma.hang(1)
  const refused = narrow.item('fees', 'client-1', id, Date.now() + 2500).catch((error: unknown) => error)
  const holding = narrow.item('fees', 'client-1', id, Date.now() + 3000).catch((error: unknown) => error)
  const error = await refused
  t.type(error, AlmaThrottledError)
  t.equal((error as AlmaThrottledError).retryAfterSeconds, 1, 'what Alma asked for')
  t.same(alma.calls.map((call) => call.status), [429, -1], 'the retry was never made')
  t.type(await holding, AlmaTimeoutError, 'the call Alma never answered is the 504')
  // The same for a 5xx: Alma's answer stands, a 502.
  alma.injectFaults(1, { status: 500 })
  alma.hang(1)
  const failed = narrow.item('fees', 'client-1', id, Date.now() + 1500).catch((error: unknown) => error)
  const holdingAgain = narrow.item('fees', 'client-1', id, Date.now() + 3000).catch((error: unknown) => error)
  t.type(await failed, AlmaBadGatewayError)
  t.type(await holdingAgain, AlmaTimeoutError)
})

t.test('a retry made and not answered by the deadline is a 504: Alma, asked again, was late; its earlier refusal does not stand', async (t) => {
  const patient = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, callTimeoutMs: 5000, retryBaseDelayMs: 5 })
  t.teardown(() => patient.close())
  const id = String(records.fees[0]?.id)
  alma.injectFaults(1, { status: 503 })
  alma.hang(1)
  const error = await patient.item('fees', 'client-1', id, Date.now() + 1000).catch((e: unknown) => e)
  t.type(error, AlmaTimeoutError)
  t.equal((error as AlmaTimeoutError).statusCode, 504)
  t.same(alma.calls.map((call) => call.status), [503, -1], 'the retry was made')
})

t.test('a retry whose turn comes with less of the budget left than its refusal took is not made: the refusal stands', async (t) => {
  // Every answer takes 500 ms. The first call is refused (429, come back in 1 s) with
  // time for a retry; a second call holds the one connection until its own earlier
  // deadline, leaving the retry a turn with about 300 ms: a call that could not be
  // answered in time, made only to be cut off as a 504.
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 500 })
  t.teardown(() => slow.close())
  slow.addUser({ primary_id: 'client-1', ...records })
  const narrow = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY, maxConnections: 1, callTimeoutMs: 5000, retryBaseDelayMs: 5 })
  t.teardown(() => narrow.close())
  const id = String(records.fees[0]?.id)
  const started = Date.now()
  slow.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '1' })
  slow.hang(1)
  const refused = narrow.item('fees', 'client-1', id, started + 2500).catch((error: unknown) => error)
  const holding = narrow.item('fees', 'client-1', id, started + 2200).catch((error: unknown) => error)
  t.type(await holding, AlmaTimeoutError)
  const error = await refused
  t.type(error, AlmaThrottledError, 'Alma said when to come back')
  t.equal((error as AlmaThrottledError).retryAfterSeconds, 1)
  t.same(slow.calls.map((call) => call.status), [429, -1], 'no retry made without the time to be answered')
})

t.test('retries after a 429 are spread out, not sent together', async (t) => {
  const spread = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, retryBaseDelayMs: 500 })
  t.teardown(() => spread.close())
  alma.injectFaults(10, { status: 429, errorCode: 'PER_SECOND_THRESHOLD' })
  const id = String(records.fees[0]?.id)
  await Promise.all(Array.from({ length: 10 }, () => spread.item('fees', 'client-1', id, soon())))
  const retries = alma.calls.slice(10).map((call) => call.startedAt)
  const firsts = alma.calls.slice(0, 10).map((call) => call.startedAt)
  t.equal(retries.length, 10)
  t.ok(Math.min(...retries) - Math.min(...firsts) >= 990, 'none sooner than the threshold\'s second')
  t.ok(Math.max(...retries) - Math.min(...retries) >= 100, `spread over ${Math.round(Math.max(...retries) - Math.min(...retries))} ms`)
})

t.test('after a 429 over the per-second threshold, the process\'s other calls wait out the window too: none is sent only to be refused', async (t) => {
  const gated = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, retryBaseDelayMs: 5 })
  t.teardown(() => gated.close())
  const id = String(records.fees[0]?.id)
  alma.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '1' })
  const refused = gated.item('fees', 'client-1', id, soon())
  while (alma.calls.length === 0) await sleep(5)
  await sleep(100)
  // Asked for after the refusal, within the second Alma asked for.
  t.ok(await gated.item('fees', 'client-1', id, soon()))
  t.ok(await refused)
  const [first, ...others] = alma.calls
  t.same(alma.calls.map((call) => call.status), [429, 200, 200])
  t.ok(others.every((call) => call.startedAt - (first?.startedAt ?? 0) >= 990), 'no call before the second is over')
  // A call whose deadline comes first is not made: Alma's refusal stands for it too.
  // A longer Retry-After is the refused call's own: the others wait out the second only.
  alma.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '3' })
  await t.rejects(gated.item('fees', 'client-1', id, Date.now() + 2000), AlmaThrottledError, 'refused, with no time to come back')
  // When Alma refused (its clock, as the later call's start is read): the refused call was told to come back 3 s on.
  const refusedAt = alma.calls.at(-1)?.endedAt ?? Number.NaN
  alma.resetCalls()
  // A deadline well inside the second, however long this test took to get here.
  const error = await gated.item('fees', 'client-1', id, Date.now() + 200).catch((error: unknown) => error)
  t.type(error, AlmaThrottledError, 'a 503 without a call')
  t.equal((error as AlmaThrottledError).retryAfterSeconds, 1, 'saying when the second ends')
  t.equal(alma.calls.length, 0)
  await sleep(1000)
  t.ok(await gated.item('fees', 'client-1', id, soon()))
  const madeAt = alma.calls.at(-1)?.startedAt ?? Number.NaN
  t.ok(madeAt - refusedAt < 2500, `after it, calls are made at once, whatever the refused call was told to wait (${Math.round(madeAt - refusedAt)} ms after the refusal, not 3 s)`)
})

t.test('a retry that meets a refusal of another call, and cannot outwait it: the refusal that says to come back later stands', async (t) => {
  holdRandomAt(t, 0.999)
  const id = String(records.fees[0]?.id)
  const cases: Array<{ name: string, own: InjectedFault, other: InjectedFault, deadlineMs: number, stands: RegExp, statuses: number[] }> = [
    {
      name: 'its own, where the other is for a second it does not outlast',
      own: { status: 429, retryAfter: '0', body: 'Too Many Requests' },
      other: { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '1' },
      deadlineMs: 900,
      stands: /^Alma answered 429 \(no code\)/,
      statuses: [429, 429, 200]
    },
    {
      name: "the other's, for a day's quota",
      own: { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '0' },
      other: { status: 429, errorCode: 'DAILY_THRESHOLD', retryAfter: '7200' },
      deadlineMs: 5000,
      stands: /^Alma not asked: .*DAILY_THRESHOLD.*Retry-After 7(199|200) s/,
      statuses: [429, 429]
    },
    {
      name: "the other's, where its own was a 5xx, which says nothing of when to come back",
      own: { status: 500 },
      other: { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '1' },
      deadlineMs: 900,
      stands: /^Alma not asked: .*PER_SECOND_THRESHOLD/,
      statuses: [500, 429, 200]
    }
  ]
  for (const { name, own, other, deadlineMs, stands, statuses } of cases) {
    alma.clearFaults()
    alma.resetCalls()
    const gated = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, retryBaseDelayMs: 400 })
    t.teardown(() => gated.close())
    // The first call is refused with no wait: its retry comes in 400 ms (the jitter at its top)...
    alma.injectFaults(1, own)
    alma.injectFaults(1, other)
    const first = gated.item('fees', 'client-1', id, Date.now() + deadlineMs).catch((error: unknown) => error)
    while (alma.calls.length === 0) await sleep(5)
    await sleep(50)
    // ...into the refusal of another call made meanwhile, which its deadline comes before the end of.
    const second = gated.item('fees', 'client-1', id, soon()).catch((error: unknown) => error)
    const error = await first
    t.type(error, AlmaThrottledError, name)
    t.match((error as AlmaThrottledError).detail, stands, name)
    await second
    t.same(alma.calls.map((call) => call.status), statuses, `${name}: its retry never made`)
  }
})

t.test('a page waiting out a refused second is not waited for once another page has failed the list', async (t) => {
  // After the first page, three at once: page 100 is refused for the second (its retry waits
  // 1 s), page 200 answers, so page 400 waits out that second; page 300 then fails the list.
  const loans = almaUserRecords('client-paused', { loans: 500, requests: 0, fees: 0 }).loans
  const asked: string[] = []
  let refusedAt = Number.NaN
  const peer = createServer((request, response) => {
    const offset = Number(new URL(request.url ?? '', 'http://alma').searchParams.get('offset'))
    asked.push(String(offset))
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
    }
    if (offset === 100) {
      refusedAt = performance.now()
      answer(429, { errorsExist: true, errorList: { error: [{ errorCode: 'PER_SECOND_THRESHOLD' }] } }, { 'retry-after': '1' })
    } else if (offset === 300) setTimeout(() => { answer(400, { errorsExist: true, errorList: { error: [{ errorCode: '402119' }] } }) }, 300)
    else setTimeout(() => { answer(200, { item_loan: loans.slice(offset, offset + 100), total_record_count: 500 }) }, offset === 0 ? 0 : 100)
  })
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { peer.closeAllConnections(); peer.close(resolve) }))
  const three = new AlmaClient({ baseUrl: `http://127.0.0.1:${(peer.address() as AddressInfo).port}`, readApiKey: async () => KEY, maxConnections: 3 })
  t.teardown(() => three.close())
  await t.rejects(three.list('loans', 'client-paused', soon()), AlmaBadGatewayError)
  // Measured from the refusal, not from the start: the second page 400 waits out begins then.
  t.ok(performance.now() - refusedAt < 1000, `failed ${Math.round(performance.now() - refusedAt)} ms after the refusal, within the refused second, not at its end`)
  t.same(asked.sort(), ['0', '100', '200', '300'], 'page 400 never asked for, nor page 100 again')
})

t.test('a list longer than Alma\'s per-second threshold: the refused pages wait out the second, and the list is whole', async (t) => {
  const strict = await AlmaSimulator.start({ apiKey: KEY, callsPerSecond: 25 })
  t.teardown(() => strict.close())
  const long = almaUserRecords('client-long', { loans: 3000, requests: 0, fees: 0 })
  strict.addUser({ primary_id: 'client-long', ...long })
  // The client's defaults: retries wait out a refused second (a 429 here has no Retry-After), plus jitter.
  const throttled = new AlmaClient({ baseUrl: strict.url, readApiKey: async () => KEY })
  t.teardown(() => throttled.close())
  t.same(await throttled.list('loans', 'client-long', soon()), long.loans)
  const refused = strict.calls.filter((call) => call.status === 429).length
  t.ok(refused > 0, `${refused} of ${strict.calls.length} calls refused on the way`)
})

t.test('no retry without time left for its answer: the 429 stands, a 503', async (t) => {
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 300 })
  t.teardown(() => slow.close())
  const hurried = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY, retryBaseDelayMs: 5 })
  t.teardown(() => hurried.close())
  slow.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD' })
  // 300 ms for the refusal and 1 s of waiting leave less than the 300 ms a retry would need.
  await t.rejects(hurried.item('fees', 'client-1', 'x1', Date.now() + 1450), AlmaThrottledError)
  t.equal(slow.calls.length, 1, 'no call spent on a retry that could not be answered in time')
})

t.test('a retry that could not be answered in time is not waited for: the refusal is answered at once, not after its Retry-After', async (t) => {
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 300 })
  t.teardown(() => slow.close())
  const hurried = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY, retryBaseDelayMs: 5 })
  t.teardown(() => hurried.close())
  slow.injectFaults(1, { status: 429, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '3' })
  // 300 ms for the refusal and 3 s of waiting leave time for the wait, not for a retry's 300 ms.
  const started = Date.now()
  const error = await hurried.item('fees', 'client-1', 'x1', started + 3500).catch((e: unknown) => e)
  t.match(error, { name: 'AlmaThrottledError', retryAfterSeconds: 3 })
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms: the 3 s were not waited out for a retry never made`)
  t.equal(slow.calls.length, 1)
})

t.test('the daily threshold is not retried', async (t) => {
  const refusalTo = async () => await ownClient(t).item('fees', 'client-1', 'x1', soon()).catch((e: unknown) => e)
  alma.injectFaults(3, { status: 429, errorCode: 'DAILY_THRESHOLD' })
  const error = await refusalTo()
  t.type(error, AlmaThrottledError)
  t.equal((error as AlmaThrottledError).retryAfterSeconds, 3600, 'an hour when Alma does not say')
  t.equal(alma.calls.length, 1)
  alma.clearFaults()
  alma.injectFaults(1, { status: 429, errorCode: 'DAILY_THRESHOLD', retryAfter: '7200' })
  const told = await refusalTo()
  t.equal((told as AlmaThrottledError).retryAfterSeconds, 7200, 'what Alma says when it does')
  t.match((told as AlmaThrottledError).detail, /DAILY_THRESHOLD/, 'the log names the threshold')
  for (const retryAfter of ['0', new Date(Date.now() - 60_000).toUTCString()]) {
    alma.injectFaults(1, { status: 429, errorCode: 'DAILY_THRESHOLD', retryAfter })
    const now = await refusalTo()
    t.equal((now as AlmaThrottledError).retryAfterSeconds, 3600, `not "now" for a day's quota (Retry-After: ${retryAfter})`)
  }
  alma.injectFaults(1, { status: 429, errorCode: 'DAILY_THRESHOLD', retryAfter: '1' })
  const inASecond = await refusalTo()
  t.equal((inASecond as AlmaThrottledError).retryAfterSeconds, 1, 'one second is not "now": what Alma says')
  alma.clearFaults()
  alma.injectFaults(3, { status: 429, body: 'Too Many Requests' })
  const bare = await refusalTo()
  t.match((bare as AlmaThrottledError).detail, /429 \(no code\)/, 'a 429 without an Alma body')
  alma.clearFaults()
  alma.resetCalls()
  const xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans">' +
    '<errorsExist>true</errorsExist><errorList><error><errorCode>DAILY_THRESHOLD</errorCode><errorMessage>Daily API threshold reached</errorMessage></error></errorList></web_service_result>'
  alma.injectFaults(3, { status: 429, body: xml })
  const inXml = await refusalTo()
  t.match(inXml, { retryAfterSeconds: 3600 }, 'told in XML, whatever Accept asked for: a day\'s quota all the same')
  t.equal(alma.calls.length, 1, 'and not retried')
})

t.test('after a daily threshold refusal, the process asks Alma nothing for a minute: its calls are refused with it, then one call finds out whether the day is over', async (t) => {
  const paused = ownClient(t)
  const id = String(records.fees[0]?.id)
  alma.injectFaults(1, { status: 429, errorCode: 'DAILY_THRESHOLD', retryAfter: '7200' })
  t.match(await paused.item('fees', 'client-1', id, soon()).catch((e: unknown) => e), { name: 'AlmaThrottledError', retryAfterSeconds: 7200 })
  for (const [name, call] of [['an item', () => paused.item('loans', 'client-2', 'x1', soon())], ['a list', () => paused.list('requests', 'client-2', soon())]] as const) {
    const error = await call().catch((e: unknown) => e)
    t.type(error, AlmaThrottledError, name)
    t.ok([7199, 7200].includes((error as AlmaThrottledError).retryAfterSeconds), `${name}: told to come back when Alma said`)
    t.match((error as AlmaThrottledError).detail, /^Alma not asked: .*DAILY_THRESHOLD/, `${name}: the log says Alma was not asked`)
  }
  // Later on (the clock moved forward, not waited for): half a minute, still no call; a minute, a call, answered.
  const realNow = Date.now
  const later = async <T>(ms: number, call: () => Promise<T>): Promise<T> => {
    Date.now = () => realNow() + ms
    try {
      return await call()
    } finally {
      Date.now = realNow
    }
  }
  t.match(await later(30_000, () => paused.item('fees', 'client-1', id, soon())).catch((e: unknown) => e), { name: 'AlmaThrottledError', retryAfterSeconds: 7170 })
  // Nor a call whose budget outlasts the pause (a request's 20 s, 58 s in): it is refused at once, not held until
  // the pause ends (its expired copy served late, and every such call sent to Alma together).
  const started = performance.now()
  t.match(await later(58_000, () => paused.item('fees', 'client-1', id, Date.now() + 20_000)).catch((e: unknown) => e), { name: 'AlmaThrottledError', retryAfterSeconds: 7142 })
  t.ok(performance.now() - started < 1000, 'at once')
  t.equal(alma.calls.length, 1, 'no call but the refused one')
  t.ok(await later(60_000, () => paused.item('fees', 'client-1', id, soon())))
  t.same(alma.calls.map((call) => call.status), [429, 200])
})

t.test('a per-second refusal answered after a daily one does not cut the daily pause short', async (t) => {
  const paths: string[] = []
  const refusing = createServer((request, response) => {
    paths.push(request.url ?? '')
    const refuse = (code: string) => { response.writeHead(429, { 'content-type': 'application/json', 'retry-after': code === 'DAILY_THRESHOLD' ? '7200' : '1' }).end(JSON.stringify({ errorsExist: true, errorList: { error: [{ errorCode: code }] } })) }
    // The per-second refusal of a call sent before the daily one comes back after it.
    if (request.url?.includes('per-second') === true) setTimeout(() => { refuse('PER_SECOND_THRESHOLD') }, 200)
    else refuse('DAILY_THRESHOLD')
  })
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => refusing.close(resolve)))
  const mixed = new AlmaClient({ baseUrl: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, readApiKey: async () => KEY, maxRetries: 0 })
  t.teardown(() => mixed.close())
  const perSecond = mixed.item('fees', 'client-1', 'per-second', soon()).catch((e: unknown) => e)
  while (paths.length === 0) await sleep(5)
  t.match(await mixed.item('fees', 'client-1', 'daily', soon()).catch((e: unknown) => e), { code: 'DAILY_THRESHOLD' })
  t.match(await perSecond, { code: 'PER_SECOND_THRESHOLD' })
  await sleep(1100)
  const later = await mixed.item('fees', 'client-1', 'daily', soon()).catch((e: unknown) => e)
  t.match(later, { detail: /^Alma not asked: .*DAILY_THRESHOLD/ }, 'still the daily pause, a second on')
  t.ok((later as AlmaThrottledError).retryAfterSeconds >= 7198)
  t.equal(paths.length, 2)
})

t.test('a call waiting for its turn when a daily threshold refusal comes is not made', async (t) => {
  let asked = 0
  const spent = createServer((_request, response) => {
    asked++
    // The refusal takes a while: the next call waits for the one connection meanwhile.
    setTimeout(() => {
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7200' }).end(JSON.stringify({ errorsExist: true, errorList: { error: [{ errorCode: 'DAILY_THRESHOLD' }] } }))
    }, 100)
  })
  await new Promise<void>((resolve) => spent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => spent.close(resolve)))
  const single = new AlmaClient({ baseUrl: `http://127.0.0.1:${(spent.address() as AddressInfo).port}`, readApiKey: async () => KEY, maxConnections: 1 })
  t.teardown(() => single.close())
  const [refused, queued] = await Promise.all(['a', 'b'].map(async (id) => await single.item('fees', 'client-1', id, soon()).catch((e: unknown) => e)))
  t.match(refused, { detail: /^Alma answered 429 \(DAILY_THRESHOLD\)/ })
  t.match(queued, { detail: /^Alma not asked: .*DAILY_THRESHOLD/, retryAfterSeconds: 7200 })
  t.equal(asked, 1)
})

t.test('a call waiting out a per-second pause in its turn meets a daily refusal answered meanwhile: it is not made', async (t) => {
  const paths: string[] = []
  const refusing = createServer((request, response) => {
    paths.push(request.url ?? '')
    const refuse = (code: string, retryAfter: string) => { response.writeHead(429, { 'content-type': 'application/json', 'retry-after': retryAfter }).end(JSON.stringify({ errorsExist: true, errorList: { error: [{ errorCode: code }] } })) }
    // The per-second refusal comes at once; the daily one, of a call sent with it, while the third call waits out the second.
    if (request.url?.includes('per-second') === true) refuse('PER_SECOND_THRESHOLD', '1')
    else if (request.url?.includes('daily') === true) setTimeout(() => { refuse('DAILY_THRESHOLD', '7200') }, 300)
    else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'waiting' }))
  })
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => refusing.close(resolve)))
  // Two connections: the third call waits for a turn, and has the per-second one's when it is refused.
  const two = new AlmaClient({ baseUrl: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, readApiKey: async () => KEY, maxRetries: 0, maxConnections: 2 })
  t.teardown(() => two.close())
  const calls = ['daily', 'per-second', 'waiting'].map(async (id) => await two.item('fees', 'client-1', id, soon()).catch((e: unknown) => e))
  const [daily, perSecond, waiting] = await Promise.all(calls)
  t.match(daily, { detail: /^Alma answered 429 \(DAILY_THRESHOLD\)/ })
  t.match(perSecond, { detail: /^Alma answered 429 \(PER_SECOND_THRESHOLD\)/ })
  t.match(waiting, { detail: /^Alma not asked: .*DAILY_THRESHOLD/ }, 'the daily pause stands when the second is over')
  t.equal(paths.length, 2, 'no call made in the daily pause')
})

t.test("Alma's errors in XML read as in JSON; a code-like text inside another body is no code", async (t) => {
  const xml = (code: string) => '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans">' +
    `<errorsExist>true</errorsExist><errorList><error><errorCode>${code}</errorCode><errorMessage>General Error</errorMessage></error></errorList></web_service_result>`
  alma.clearFaults()
  alma.injectFaults(1, { status: 400, body: xml('\n 401652 ') })
  t.equal(await client.item('fees', 'client-1', 'x1', soon()), undefined, 'a 400 General Error on an item call: not there, as in JSON')
  for (const codeless of [xml(''), '<web_service_result><errorsExist>true</errorsExist></web_service_result>']) {
    alma.injectFaults(1, { status: 400, body: codeless })
    t.equal(await client.item('fees', 'client-1', 'x1', soon()), undefined, 'an error without a code, at 400 on an item call: not there, as in JSON')
  }
  alma.injectFaults(1, { status: 400, body: xml('\n 401861 ') })
  await t.rejects(client.list('fees', 'client-1', soon()), NotFoundError, 'a user not-found code on a list call: 404 (its code trimmed)')
  alma.injectFaults(1, { status: 400, body: `\r\n  ${xml('401861')}` })
  await t.rejects(client.list('fees', 'client-1', soon()), NotFoundError, 'an XML error body after blank lines is read all the same')
  alma.resetCalls()
  alma.injectFaults(3, { status: 500, body: JSON.stringify({ message: '<errorsExist>true</errorsExist><errorCode>DAILY_THRESHOLD</errorCode>' }) })
  await t.rejects(client.item('fees', 'client-1', 'x1', soon()), AlmaBadGatewayError, 'a JSON 500 that quotes a code: a 5xx, retried')
  t.equal(alma.calls.length, 3)
  alma.resetCalls()
  alma.injectFaults(3, { status: 502, body: '<html><body><errorCode>DAILY_THRESHOLD</errorCode></body></html>' })
  await t.rejects(client.item('fees', 'client-1', 'x1', soon()), AlmaBadGatewayError, 'nor an HTML page that does')
  t.equal(alma.calls.length, 3)
})

t.test('threshold codes at other statuses: the code decides', async (t) => {
  const id = String(records.fees[0]?.id)
  // Retry-After 0 keeps the retries quick; the threshold's second is covered above.
  for (const status of [400, 403]) {
    alma.resetCalls()
    alma.injectFaults(3, { status, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '0' })
    const error = await client.item('fees', 'client-1', id, soon()).catch((e: unknown) => e)
    t.type(error, AlmaThrottledError, `${status} PER_SECOND_THRESHOLD: throttled, not "not there" nor the key`)
    t.match(error, { statusCode: 503, retryAfterSeconds: 1 })
    t.equal(alma.calls.length, 3, `${status} PER_SECOND_THRESHOLD: retried as a 429 is`)
  }
  alma.resetCalls()
  alma.injectFaults(1, { status: 400, errorCode: 'PER_SECOND_THRESHOLD', retryAfter: '0' })
  t.ok(await client.item('fees', 'client-1', id, soon()), 'a retry that gets through answers')
  t.same(alma.calls.map((call) => call.status), [400, 200])

  alma.resetCalls()
  alma.injectFaults(3, { status: 400, errorCode: 'DAILY_THRESHOLD' })
  const daily = await ownClient(t).item('fees', 'client-1', id, soon()).catch((e: unknown) => e)
  t.type(daily, AlmaThrottledError, '400 DAILY_THRESHOLD: throttled')
  t.match(daily, { statusCode: 503, retryAfterSeconds: 3600 })
  t.equal(alma.calls.length, 1, 'and not retried')
})

t.test('Retry-After as an HTTP date is honoured', async (t) => {
  // An HTTP date has whole seconds: two seconds ahead is at least one second away.
  alma.injectFaults(1, { status: 429, retryAfter: new Date(Date.now() + 2000).toUTCString() })
  const started = Date.now()
  t.ok(await client.item('fees', 'client-1', String(records.fees[0]?.id), soon()))
  t.ok(Date.now() - started >= 900, 'waited for the date')
})

t.test('a refusal passed on with a Retry-After date tells callers to come back no sooner than the date: its seconds rounded up', async (t) => {
  const once = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY, maxRetries: 0, callTimeoutMs: 500 })
  t.teardown(() => once.close())
  // Half a second into a second, a date in whole seconds four seconds on is 3.5 s away: 3 would be too soon.
  await sleep((1500 - (Date.now() % 1000)) % 1000)
  const date = Date.now() - (Date.now() % 1000) + 4000
  alma.injectFaults(1, { status: 429, retryAfter: new Date(date).toUTCString() })
  const error = await once.item('fees', 'client-1', String(records.fees[0]?.id), soon()).catch((error: unknown) => error)
  t.type(error, AlmaThrottledError)
  const seconds = (error as AlmaThrottledError).retryAfterSeconds
  t.ok(seconds * 1000 >= date - Date.now(), `Retry-After ${seconds} s, the date ${date - Date.now()} ms away`)
})

t.test('a 5xx with Retry-After is retried no sooner than it says', async (t) => {
  alma.injectFaults(1, { status: 503, retryAfter: '1' })
  const started = Date.now()
  t.ok(await client.item('fees', 'client-1', String(records.fees[0]?.id), soon()))
  t.ok(Date.now() - started >= 950, `waited out Retry-After: ${Date.now() - started} ms`)
  t.same(alma.calls.map((call) => call.status), [503, 200])
})

t.test('by default a 5xx is retried after up to 250 ms, then up to 500 ms (full jitter)', async (t) => {
  const defaults = new AlmaClient({ baseUrl: alma.url, readApiKey: async () => KEY })
  t.teardown(() => defaults.close())
  // The jitter at its largest: the waits are the backoff's bounds.
  holdRandomAt(t, 1)
  alma.injectFaults(2, { status: 500 })
  t.ok(await defaults.item('fees', 'client-1', String(records.fees[0]?.id), soon()))
  const [first, second, third] = alma.calls
  const waits = [(second?.startedAt ?? 0) - (first?.endedAt ?? 0), (third?.startedAt ?? 0) - (second?.endedAt ?? 0)]
  t.ok((waits[0] ?? 0) >= 240 && (waits[1] ?? 0) >= 490, `waited ${waits.map(Math.round).join(' and ')} ms`)
  t.ok((waits[1] ?? 0) < 1500, 'not much longer')
})

t.test('a call whose answer trickles in is cut at its time limit, not at the budget', async (t) => {
  // Headers at once, then a byte every 100 ms: never idle long enough for undici's own timeouts.
  const trickling = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{')
    const timer = setInterval(() => { response.write(' ') }, 100)
    response.on('close', () => { clearInterval(timer) })
  })
  await new Promise<void>((resolve) => trickling.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { trickling.closeAllConnections(); return new Promise((resolve) => trickling.close(resolve)) })
  const patient = new AlmaClient({ baseUrl: `http://127.0.0.1:${(trickling.address() as AddressInfo).port}`, readApiKey: async () => KEY, callTimeoutMs: 500 })
  t.teardown(() => patient.close())
  const started = Date.now()
  await t.rejects(patient.item('fees', 'client-1', 'x1', Date.now() + 10_000), AlmaTimeoutError)
  t.ok(Date.now() - started < 2000, `cut after ${Date.now() - started} ms (limit 500 ms, budget 10 s)`)
})

t.test('an answer whose body never ends: cut at a size no Alma answer reaches, a 502 not retried, not read into memory until the time limit', async (t) => {
  // Headers at once, then the body as fast as the connection takes it (a proxy gone wrong, say).
  let written = 0
  let requests = 0
  const chunk = Buffer.alloc(1 << 20, 0x20)
  const endless = createServer((_request, response) => {
    requests++
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{')
    const more = () => {
      while (!response.destroyed && response.write(chunk)) written += chunk.length
      if (!response.destroyed) written += chunk.length
    }
    response.on('drain', more)
    more()
  })
  await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { endless.closeAllConnections(); return new Promise((resolve) => endless.close(resolve)) })
  // A long time limit: on a fast connection, gigabytes would arrive within it.
  const patient = new AlmaClient({ baseUrl: `http://127.0.0.1:${(endless.address() as AddressInfo).port}`, readApiKey: async () => KEY, callTimeoutMs: 5000, retryBaseDelayMs: 5 })
  t.teardown(() => patient.close())
  const started = Date.now()
  const failure = await patient.item('fees', 'client-1', 'x1', Date.now() + 10_000).catch((error: unknown) => error)
  t.type(failure, AlmaBadGatewayError, `a 502 (${String(failure)})`)
  t.notOk(failure instanceof AlmaUnreachableError, 'Alma answered: an unusable answer, not an unreachable Alma')
  t.match(failure, { statusCode: 502, detail: 'a body over 16777216 bytes' }, 'the log says why')
  t.equal(requests, 1, 'not retried: the same call would get the same answer')
  t.ok(Date.now() - started < 4000, `cut after ${Date.now() - started} ms, before the time limit`)
  t.ok(written < 256 * 2 ** 20, `${Math.round(written / 2 ** 20)} MB sent before the cut`)
})

t.test('a TLS handshake that never completes: cut at the deadline and at the call\'s time limit, not at undici\'s 10 s connect timeout', async (t) => {
  // Alma's port accepts connections and then says nothing: an https connection never
  // gets through its handshake. undici ends a request still connecting only when the
  // connection is made or fails, whatever its abort signal says.
  const silent = createNetServer(() => {})
  const sockets = new Set<Socket>()
  silent.on('connection', (socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const socket of sockets) socket.destroy(); return new Promise((resolve) => silent.close(resolve)) })
  const { port } = silent.address() as AddressInfo
  // The deadline first: a 504 when it passes.
  const patient = new AlmaClient({ baseUrl: `https://127.0.0.1:${port}`, readApiKey: async () => KEY, callTimeoutMs: 2000 })
  t.teardown(() => patient.close())
  let started = Date.now()
  await t.rejects(patient.item('fees', 'client-1', 'x1', Date.now() + 300), AlmaTimeoutError)
  t.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms (deadline 300 ms)`)
  // The call's time limit first: a 504, not retried, as a call cut at its limit in any other phase.
  const hurried = new AlmaClient({ baseUrl: `https://127.0.0.1:${port}`, readApiKey: async () => KEY, callTimeoutMs: 300, retryBaseDelayMs: 5 })
  t.teardown(() => hurried.close())
  const before = sockets.size
  started = Date.now()
  await t.rejects(hurried.item('fees', 'client-1', 'x1', Date.now() + 20_000), AlmaTimeoutError)
  t.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms (limit 300 ms)`)
  t.equal(sockets.size - before, 1, 'not retried')
})

t.test('by default at most 10 calls are in flight at once, the others wait their turn', async (t) => {
  const slow = await AlmaSimulator.start({ apiKey: KEY, latencyMs: 100 })
  t.teardown(() => slow.close())
  slow.addUser({ primary_id: 'client-1', ...records })
  const capped = new AlmaClient({ baseUrl: slow.url, readApiKey: async () => KEY })
  t.teardown(() => capped.close())
  const id = String(records.fees[0]?.id)
  const answers = await Promise.all(Array.from({ length: 40 }, () => capped.item('fees', 'client-1', id, soon())))
  t.ok(answers.every((answer) => answer !== undefined), '40 answers')
  t.equal(slow.calls.length, 40)
  t.equal(slow.maxConcurrentCalls, 10, 'ten at once, no more')
})

t.test('a spent budget makes no call', async (t) => {
  await t.rejects(client.item('fees', 'client-1', 'x1', Date.now() - 1), AlmaTimeoutError)
  t.equal(alma.calls.length, 0)
})

t.test('a key read that outlasts the budget spends it: no call, 504', async (t) => {
  const slowKey = new AlmaClient({ baseUrl: alma.url, readApiKey: () => new Promise((resolve) => setTimeout(resolve, 60, KEY)) })
  t.teardown(() => slowKey.close())
  await t.rejects(slowKey.item('fees', 'client-1', 'x1', Date.now() + 30), AlmaTimeoutError)
  t.equal(alma.calls.length, 0)
})

t.test('Alma unreachable: retried, then 502', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  const down = new AlmaClient({ baseUrl: `http://127.0.0.1:${port}`, readApiKey: async () => KEY, retryBaseDelayMs: 5 })
  t.teardown(() => down.close())
  await t.rejects(down.list('fees', 'client-1', soon()), { statusCode: 502, message: 'Alma could not be reached', detail: 'could not reach Alma', name: 'AlmaUnreachableError' })
})

t.test('connections reset by Alma: retried, then 502', async (t) => {
  let connections = 0
  const server = createNetServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const reset = new AlmaClient({ baseUrl: `http://127.0.0.1:${port}`, readApiKey: async () => KEY, retryBaseDelayMs: 5, maxRetries: 2 })
  t.teardown(() => reset.close())
  await t.rejects(reset.item('fees', 'client-1', 'x1', soon()), { statusCode: 502, message: 'Alma could not be reached' })
  t.equal(connections, 3, 'the first attempt and two retries')
})

t.test('a base URL with a path keeps it', async (t) => {
  const prefixed = new AlmaClient({ baseUrl: `${alma.url}/proxy/`, readApiKey: async () => KEY })
  t.teardown(() => prefixed.close())
  await prefixed.item('fees', 'client-1', 'x1', soon()).catch(() => undefined)
  t.same(alma.calls.map((call) => call.path), ['/proxy/almaws/v1/users/client-1/fees/x1'])
})

t.test('both IDs are percent-encoded by the client itself, whatever reaches it (the routes let through only IDs encoding leaves alone)', async (t) => {
  t.equal(await client.item('loans', 'a b/c', 'x/../y?z#w', soon()), undefined)
  t.same(alma.calls.map((call) => call.path), ['/almaws/v1/users/a%20b%2Fc/loans/x%2F..%2Fy%3Fz%23w'])
})

t.test('the simulator\'s thresholds answer with Alma\'s codes and words: a daily quota counts every call until its day ends', async (t) => {
  const quota = await AlmaSimulator.start({ apiKey: KEY, callsPerDay: 1 })
  t.teardown(() => quota.close())
  quota.addUser({ primary_id: 'client-1', ...records })
  const get = async () => {
    const response = await fetch(`${quota.url}/almaws/v1/users/client-1/fees`, { headers: { authorization: `apikey ${KEY}`, accept: 'application/json' } })
    const body = await response.json() as { errorList?: { error: Array<{ errorCode: string, errorMessage: string }> } }
    return { status: response.status, error: body.errorList?.error[0] }
  }
  t.match(await get(), { status: 200, error: undefined }, 'the day\'s one call')
  const daily = { status: 429, error: { errorCode: 'DAILY_THRESHOLD', errorMessage: 'Daily API Request Threshold has been reached' } }
  t.match(await get(), daily, 'past it, refused')
  t.match(await get(), daily, 'and refused again: refusals count too')
  quota.newDay()
  t.match(await get(), { status: 200 }, 'a new day, a new quota')
  const perSecond = { status: 429, error: { errorCode: 'PER_SECOND_THRESHOLD', errorMessage: 'HTTP requests are more than allowed per second' } }
  quota.callsPerDay = undefined
  quota.injectFaults(1, { status: 429 })
  t.match(await get(), perSecond, 'a 429 without a code: the per-second threshold\'s')
  quota.injectFaults(1, { status: 429, errorCode: 'SOME_OTHER_CODE' })
  t.match(await get(), { status: 429, error: { errorCode: 'SOME_OTHER_CODE', errorMessage: perSecond.error.errorMessage } }, 'another code keeps the per-second words')
  quota.injectFaults(1, { status: 500 })
  t.match(await get(), { status: 500, error: { errorCode: 'INTERNAL_SERVER_ERROR', errorMessage: 'Internal server error' } })
})

t.test('the simulator\'s per-second threshold counts the calls that came before a call, not those that came during its latency', async (t) => {
  const slow = await AlmaSimulator.start({ apiKey: KEY, callsPerSecond: 3, latencyMs: 100 })
  t.teardown(() => slow.close())
  slow.addUser({ primary_id: 'client-1', ...records })
  const statuses = await Promise.all(Array.from({ length: 4 }, async () => {
    const response = await fetch(`${slow.url}/almaws/v1/users/client-1/fees`, { headers: { authorization: `apikey ${KEY}`, accept: 'application/json' } })
    await response.arrayBuffer()
    return response.status
  }))
  t.same(statuses.sort(), [200, 200, 200, 429], 'four calls at once, three a second: only the fourth refused')
  t.same(slow.calls.map((call) => call.status), [200, 200, 200, 429], 'the last to arrive')
})

t.test('the simulator takes the key as Alma does: in the Authorization header, or as the apikey query parameter', async (t) => {
  const get = async (query: string, headers: Record<string, string>) =>
    (await fetch(`${alma.url}/almaws/v1/users/client-1/fees${query}`, { headers: { accept: 'application/json', ...headers } })).status
  t.equal(await get('', { authorization: `apikey ${KEY}` }), 200)
  t.equal(await get(`?apikey=${KEY}`, {}), 200, 'the query form')
  t.equal(await get('?apikey=wrong', {}), 401)
  t.equal(await get('', { authorization: 'apikey wrong' }), 401)
})

t.test('the simulator, asked without Accept, answers XML as Alma does: its errors with their codes', async (t) => {
  const get = async (path: string, headers: Record<string, string>) => {
    const response = await fetch(`${alma.url}/almaws/v1${path}`, { headers })
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
  }
  const keyed = { authorization: `apikey ${KEY}` }
  t.match(await get('/users/client-1/fees', keyed), { status: 200, type: /^application\/xml/, text: /^<\?xml .*total_record_count="\d+"/ })
  t.match(await get('/users/a%3Cb/loans', keyed), {
    status: 400,
    type: /^application\/xml/,
    text: /<web_service_result [^>]*><errorsExist>true<\/errorsExist><errorList><error><errorCode>401861<\/errorCode><errorMessage>User with identifier a&lt;b was not found\.<\/errorMessage>/
  })
  t.match(await get('/users/client-1/loans', {}), { status: 401, type: /^application\/xml/, text: /<errorCode>UNAUTHORIZED<\/errorCode>/ })
})

t.test('a closed client opens no connections, even for a call that was waiting for its key', async (t) => {
  let keyAsked!: () => void
  let giveKey!: (key: string) => void
  const asked = new Promise<void>((resolve) => { keyAsked = resolve })
  const closing = new AlmaClient({ baseUrl: alma.url, readApiKey: () => { keyAsked(); return new Promise((resolve) => { giveKey = resolve }) } })
  const call = closing.item('loans', 'client-1', 'x1', soon())
  await asked
  await closing.close()
  giveKey(KEY)
  const refused = await call.then(() => undefined, (error: unknown) => error)
  t.type(refused, UnavailableError)
  t.match(refused, { statusCode: 503, retryAfterSeconds: 1 }, 'a 503 that says when to come back')
  t.same(alma.calls, [], 'no call reached Alma')
})

t.test('closing the client ends its keep-alive connections to Alma', async (t) => {
  const peer = await keptAlivePeer(t, (_request, response) => { response.setHeader('content-type', 'application/json').end('{}') })
  const closing = new AlmaClient({ baseUrl: peer.url, readApiKey: async () => KEY })
  await closing.item('fees', 'client-1', 'x1', soon()).catch(() => undefined)
  t.equal(await peer.openConnections(), 1, 'the connection stays open after the answer')
  await closing.close()
  for (let waited = 0; await peer.openConnections() > 0 && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(await peer.openConnections(), 0, 'and is closed with the client')
})

t.test('parseRetryAfter', async (t) => {
  t.equal(parseRetryAfter('2'), 2000)
  t.equal(parseRetryAfter(['3']), 3000)
  t.equal(parseRetryAfter(['3', '5']), 3000, 'sent twice: the first')
  t.equal(parseRetryAfter('0'), 0, 'now, not "not said"')
  t.equal(parseRetryAfter(undefined), undefined)
  t.equal(parseRetryAfter(' '), undefined)
  t.equal(parseRetryAfter(' 4 '), 4000, 'the whitespace around a value is no part of it')
  t.equal(parseRetryAfter('-1'), undefined)
  t.equal(parseRetryAfter('soon'), undefined)
  t.equal(parseRetryAfter(new Date(Date.now() - 60_000).toUTCString()), 0, 'a date in the past: now')
  for (const notDelta of ['1e3', '+5', '0x3C', '2.5', '1, 2', 'Sun, 31 Foo 2026 08:49:37 GMT']) t.equal(parseRetryAfter(notDelta), undefined, `${notDelta}: neither delta-seconds nor an HTTP-date`)
  t.equal(parseRetryAfter('9'.repeat(400)), 86_400_000, 'a day at most (a figure callers are handed)')
  t.equal(parseRetryAfter(`Wed Dec  6 08:49:37 ${new Date().getUTCFullYear() + 2}`), 86_400_000, 'asctime with a one-digit day, space-padded')
  const at = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000)
  const [weekday, day, month, year, time] = at.toUTCString().split(/,? /) as string[]
  const forms = {
    'IMF-fixdate': at.toUTCString(),
    'RFC 850': `${new Intl.DateTimeFormat('en', { weekday: 'long', timeZone: 'UTC' }).format(at)}, ${day}-${month}-${year?.slice(2)} ${time} GMT`,
    // GMT though it does not say so, whatever the process's time zone
    asctime: `${weekday} ${month} ${day?.replace(/^0/, ' ')} ${time} ${year}`
  }
  const zone = process.env.TZ
  process.env.TZ = 'America/New_York'
  t.teardown(() => { if (zone === undefined) delete process.env.TZ; else process.env.TZ = zone })
  for (const [form, date] of Object.entries(forms)) {
    const ms = parseRetryAfter(date)
    t.ok(ms !== undefined && ms > 55_000 && ms <= 61_000, `${form} (${date}): ${ms} ms, about a minute`)
  }
})
