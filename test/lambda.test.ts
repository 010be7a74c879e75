import t from 'tap'
import { Client } from 'undici'
import { seedUser } from '../dev/demo-users.js'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import * as lambda from '../src/lambda.js'
import { ROUTE_NAMES } from '../src/app.js'
import { answerOf } from './support/answers.js'
import { httpApiEvent, lambdaContext, restApiEvent } from '../dev/api-gateway-events.js'
import { startSsmPeer } from './support/ssm-peer.js'
import { ALMA_TEST_KEY, buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// The seven handlers of src/lambda.ts, in this process: each answers API Gateway
// events exactly as the HTTP server answers the same request.

process.env.LOG_LEVEL = 'silent'
const stack = await startTestStack(t)
const cached = await seedUser(stack, 'lambda-1', { loans: 3, requests: 2, fees: 2 }, DAY)
const almaOnly = await seedUser(stack, 'lambda-2', { loans: 2, requests: 1, fees: 1 })
const { app: server } = await buildTestApp(t)

// The handlers write their EMF metrics records and logs to stdout, as CloudWatch
// Logs reads them; here they are kept (and counted) instead of joining tap's output.
// While `flushing` is held, a write's completion waits, as when the pipe to the log reader is full.
const metricsLines: string[] = []
const logLines: string[] = []
const flushing = { held: false, waiting: [] as Array<() => void> }
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = ((chunk: string | Uint8Array, ...rest: Array<(() => void) | BufferEncoding | undefined>) => {
  const done = rest.find((argument) => typeof argument === 'function')
  if (flushing.held && done !== undefined) {
    flushing.waiting.push(done)
    return false
  }
  if (String(chunk).startsWith('{')) {
    (String(chunk).startsWith('{"_aws"') ? metricsLines : logLines).push(String(chunk))
    done?.()
    return true
  }
  return write(chunk, ...(rest as never[]))
}) as typeof process.stdout.write
t.teardown(() => { process.stdout.write = write })

const PATHS: Record<typeof ROUTE_NAMES[number], string[]> = {
  getUser: ['/users/lambda-1', '/users/LAMBDA-2', '/users/nobody', '/users/bad%20id'],
  getUserLoans: ['/users/lambda-1/loans', '/users/lambda-2/loans'],
  getUserLoan: [`/users/lambda-1/loans/${cached.loans[0]?.loan_id}`, '/users/lambda-1/loans/0000', '/users/lambda-1/loans/a..b%2F'],
  getUserRequests: ['/users/lambda-1/requests', '/users/lambda-2/requests'],
  getUserRequest: [`/users/lambda-1/requests/${cached.requests[1]?.request_id}`, `/users/lambda-2/requests/${almaOnly.requests[0]?.request_id}`],
  getUserFees: ['/users/lambda-1/fees', '/users/nobody/fees'],
  getUserFee: [`/users/lambda-1/fees/${cached.fees[0]?.id}`, `/users/lambda-2/fees/${cached.fees[0]?.id}`]
}

t.test('a container without its configuration fails its events until it has it', async (t) => {
  const queueUrl = process.env.USER_QUEUE_URL
  delete process.env.USER_QUEUE_URL
  const before = logLines.length
  const event = restApiEvent('/users/lambda-1/fees')
  const context = lambdaContext('getUserFees')
  await t.rejects(lambda.getUserFees(event, context), /Missing configuration: USER_QUEUE_URL/)
  t.match(logLines.slice(before).map((line) => JSON.parse(line)), [{
    level: 50,
    msg: 'could not start',
    reqId: event.requestContext.requestId,
    awsRequestId: context.awsRequestId,
    err: { type: 'ConfigError', message: 'Missing configuration: USER_QUEUE_URL. See "Configuration" in docs/operations.md.' }
  }], 'one line saying what to fix, with both request IDs, whatever LOG_LEVEL says')
  t.equal(logLines.length - before, 1, 'one line, not more (t.match above would take more)')
  // Not an API Gateway event (the console's test event): the configuration error all the same, not a TypeError.
  const notProxy = { key1: 'value1' } as unknown as Parameters<typeof lambda.getUserFees>[0]
  await t.rejects(lambda.getUserFees(notProxy, context), { name: 'ConfigError' })
  t.match(JSON.parse(logLines.at(-1) as string), { msg: 'could not start', err: { type: 'ConfigError' } })
  process.env.USER_QUEUE_URL = queueUrl
  const response = await lambda.getUserFees(restApiEvent('/users/lambda-1/fees'), lambdaContext('getUserFees'))
  t.equal(response.statusCode, 200, 'the failed start was not remembered')
})

t.test('a container builds its app once: the Alma key is read from SSM on its first Alma call, once; a failed read is tried again on the next invocation', async (t) => {
  const ssm = await startSsmPeer(ALMA_TEST_KEY)
  t.teardown(() => ssm.close())
  const saved = { ALMA_API_KEY: process.env.ALMA_API_KEY, ALMA_API_KEY_NAME: process.env.ALMA_API_KEY_NAME, AWS_ENDPOINT_URL_SSM: process.env.AWS_ENDPOINT_URL_SSM }
  t.teardown(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
  delete process.env.ALMA_API_KEY
  process.env.ALMA_API_KEY_NAME = '/alma/api-key'
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url
  // A container of its own: the module loaded anew, its handlers not started yet.
  const fresh = '../src/lambda.js?container=ssm'
  const container = await import(fresh) as typeof lambda
  // Not cached: every invocation asks Alma, so needs the key.
  const invoke = async () => (await container.getUserFees(restApiEvent('/users/lambda-2/fees'), lambdaContext('getUserFees'))).statusCode
  ssm.mode = 'fail'
  t.equal(await invoke(), 502, 'SSM failing: the key could not be read')
  const failedReads = ssm.asked.length
  t.ok(failedReads > 0)
  ssm.mode = 'answer'
  t.equal(await invoke(), 200, 'the failed read was not remembered: tried again, and read')
  const reads = ssm.asked.length
  t.ok(reads > failedReads)
  for (let invocation = 0; invocation < 3; invocation++) t.equal(await invoke(), 200, `warm invocation ${invocation + 1}`)
  t.equal(ssm.asked.length, reads, 'warm invocations use the app built and the key read: SSM not asked again')
})

t.test('a handler returns only once its output is written', async (t) => {
  flushing.held = true
  let returned = false
  const answer = lambda.getUserFees(restApiEvent('/users/lambda-1/fees'), lambdaContext('getUserFees')).then((response) => {
    returned = true
    return response
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(returned, 'still waiting for stdout')
  flushing.held = false
  for (const release of flushing.waiting.splice(0)) release()
  t.equal((await answer).statusCode, 200)
})

t.test('every handler answers as the server does, to REST and HTTP API events', async (t) => {
  const before = metricsLines.length
  const logsBefore = logLines.length
  let invocations = 0
  for (const route of ROUTE_NAMES) {
    for (const path of PATHS[route]) {
      invocations += 2
      const expected = answerOf(await server.inject({ method: 'GET', url: path }))
      t.strictSame(answerOf(await lambda[route](restApiEvent(path), lambdaContext(route))), expected, `${route} ${path} (REST API)`)
      t.strictSame(answerOf(await lambda[route](httpApiEvent(path), lambdaContext(route))), expected, `${route} ${path} (HTTP API)`)
    }
  }
  t.equal(metricsLines.length - before, invocations, 'one metrics record per invocation, written before it returned')
  t.same(logLines.slice(logsBefore), [], 'LOG_LEVEL=silent: not a log line (the metrics records are no log lines)')
})

t.test('a decoded path (as HTTP APIs send it) cannot cut an ID short', async (t) => {
  // `lambda%2D1`: a caller's `lambda%252D1` decoded once; decoded again here, it would be `lambda-1`.
  const ids = ['lambda-1#x', 'lambda-1 x', 'lambda-1?x', 'lambda-1%', 'lambda-1/..', 'lambda%2D1', 'lambda-1\u{1F600}', 'lambda-1\uD800']
  for (const id of ids) {
    const event = { ...httpApiEvent('/users/lambda-1'), rawPath: `/users/${id}`, pathParameters: { userID: id } }
    const response = await lambda.getUser(event, lambdaContext('getUser'))
    t.equal(response.statusCode, 400, id)
    t.notMatch(response.body, /"loans"/, `${id}: nobody's records`)
    // The same path with no route to rebuild it from ($default), and in an HTTP API's payload 1.0, whose decoded path is `path`.
    // (With `/..`, the server's 400 cannot be told from the decoded path: a 404 for `/users/lambda-1/..`.)
    const byPath = await lambda.getUser({ ...event, routeKey: '$default' }, lambdaContext('getUser'))
    t.equal(byPath.statusCode, id.includes('/') ? 404 : 400, `${id}, $default route`)
    t.notMatch(byPath.body, /"loans"/, `${id}, $default route: nobody's records`)
    const v1 = { ...restApiEvent('/users/lambda-1'), version: '1.0', path: `/users/${id}`, pathParameters: { userID: id } }
    t.equal((await lambda.getUser(v1, lambdaContext('getUser'))).statusCode, 400, `${id}, payload 1.0`)
  }
})

t.test('an ID holding a dot segment is refused as on the server, never resolved into another path', async (t) => {
  const loanID = cached.loans[0]?.loan_id as string
  // What a caller's encoded `/` and `.` become in each kind of event.
  const cases: Array<[string, string]> = [
    ['/users/x%2F..%2Flambda-1/loans', 'getUserLoans'],
    ['/users/x%2F..%2Flambda-1', 'getUser'],
    [`/users/lambda-1/loans/x%2F..%2F${loanID}`, 'getUserLoan'],
    ['/users/%2E%2E/loans', 'getUserLoans'],
    ['/users/%2e/loans', 'getUserLoans'],
    ['/users/lambda-1/loans/%2E%2E', 'getUserLoan'],
    ['/users/lambda-1/loans/..', 'getUserLoan']
  ]
  // Over HTTP, the path as sent: inject() would resolve its dot segments.
  const client = new Client(await server.listen({ host: '127.0.0.1', port: 0 }))
  t.teardown(() => client.close())
  for (const [path, route] of cases) {
    const sent = await client.request({ method: 'GET', path })
    const expected = answerOf({ statusCode: sent.statusCode, headers: sent.headers, body: await sent.body.text() })
    t.equal(expected.statusCode, 400, `the server refuses ${path}`)
    const handler = lambda[route as typeof ROUTE_NAMES[number]]
    t.strictSame(answerOf(await handler(restApiEvent(path), lambdaContext(route))), expected, `${path} (REST API)`)
    t.strictSame(answerOf(await handler({ ...restApiEvent(path), path: `/alma${path}` }, lambdaContext(route))), expected, `${path} (REST API, base path)`)
    t.strictSame(answerOf(await handler(httpApiEvent(path), lambdaContext(route))), expected, `${path} (HTTP API)`)
    t.strictSame(answerOf(await handler({ ...httpApiEvent(path), rawPath: `/stg${httpApiEvent(path).rawPath}` }, lambdaContext(route))), expected, `${path} (HTTP API, named stage)`)
  }
})

t.test('a REST API path is encoded already: its escapes are decoded once', async (t) => {
  const response = await lambda.getUser(restApiEvent('/users/lambda%2D1'), lambdaContext('getUser'))
  t.equal(response.statusCode, 200)
  t.equal(JSON.parse(response.body).primary_id, 'lambda-1')
})

t.test('an event without multiValueHeaders (hand-made test events) is served', async (t) => {
  const event = { ...restApiEvent('/users/lambda-1/fees'), multiValueHeaders: undefined as never }
  t.equal((await lambda.getUserFees(event, lambdaContext('getUserFees'))).statusCode, 200)
})

t.test('an event whose headers are in multiValueHeaders only (hand-made test events), some of them empty, is answered as the server answers', async (t) => {
  const path = '/users/lambda-1/fees'
  const rest = restApiEvent(path)
  const event = { ...rest, headers: null, multiValueHeaders: { ...rest.multiValueHeaders, 'X-Empty': [] } }
  t.strictSame(answerOf(await lambda.getUserFees(event as never, lambdaContext('getUserFees'))), answerOf(await server.inject({ method: 'GET', url: path })))
})

t.test('an event without a request context, or without its request ID (hand-made test events), is answered as the server answers', async (t) => {
  const path = '/users/lambda-1/fees'
  const expected = answerOf(await server.inject({ method: 'GET', url: path }))
  const { requestContext: _rest, ...restEvent } = restApiEvent(path)
  const { requestContext: _http, ...httpEvent } = httpApiEvent(path)
  const withContext = restApiEvent(path)
  const events = [restEvent, httpEvent, { ...withContext, requestContext: { ...withContext.requestContext, requestId: undefined } }]
  for (const event of events) t.strictSame(answerOf(await lambda.getUserFees(event as never, lambdaContext('getUserFees'))), expected)
})

t.test('behind a custom domain, a path that carries a base path mapping is answered as without it', async (t) => {
  const path = `/users/lambda-1/loans/${cached.loans[0]?.loan_id}`
  const expected = answerOf(await server.inject({ method: 'GET', url: path }))
  t.equal(expected.statusCode, 200)
  for (const base of ['/alma', '/library/alma', '/users']) {
    // REST APIs: the base path mapping comes before the path; the resource is the route's.
    const rest = restApiEvent(path)
    t.strictSame(answerOf(await lambda.getUserLoan({ ...rest, path: base + path }, lambdaContext('getUserLoan'))), expected, `REST API, base path ${base}`)
    // HTTP APIs: the API mapping (or a named stage) before the path; the route key names the route.
    const http = httpApiEvent(path)
    t.strictSame(answerOf(await lambda.getUserLoan({ ...http, rawPath: base + path }, lambdaContext('getUserLoan'))), expected, `HTTP API, mapping ${base}`)
  }
  // A path that does not end in the route is routed as sent (the server's 404 for a trailing slash).
  const slashed = `${path}/`
  const notFound = answerOf(await server.inject({ method: 'GET', url: slashed }))
  t.equal(notFound.statusCode, 404)
  t.strictSame(answerOf(await lambda.getUserLoan(restApiEvent(slashed), lambdaContext('getUserLoan'))), notFound, 'a trailing slash')
  // With no route in the event (an HTTP API's $default route, a hand-made event), the path is taken as it is.
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), routeKey: '$default' }, lambdaContext('getUserLoan'))), expected, '$default route')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...restApiEvent(path), resource: undefined as never }, lambdaContext('getUserLoan'))), expected, 'no resource')
  // A hand-made event may null what it does not fill in (as API Gateway nulls pathParameters): the path is taken as it is, no TypeError.
  t.strictSame(answerOf(await lambda.getUserLoan({ ...restApiEvent(path), resource: null as never }, lambdaContext('getUserLoan'))), expected, 'a null resource')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), routeKey: null as never }, lambdaContext('getUserLoan'))), expected, 'a null route key')
  t.equal((await lambda.getUserLoan({ ...httpApiEvent(path), routeKey: '$default', rawPath: `/alma${path}` }, lambdaContext('getUserLoan'))).statusCode, 404, 'no route to cut it by')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), routeKey: undefined as never }, lambdaContext('getUserLoan'))), expected, 'no route key')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), pathParameters: undefined }, lambdaContext('getUserLoan'))), expected, 'no parameters')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), pathParameters: { userID: 'lambda-1' } }, lambdaContext('getUserLoan'))), expected, 'a parameter missing')
  // Missing, not the text "undefined": a path whose ID reads so is taken as it is too, as the server takes it.
  const undefinedID = '/users/lambda-1/loans/undefined'
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(undefinedID), pathParameters: { userID: 'lambda-1' } }, lambdaContext('getUserLoan'))),
    answerOf(await server.inject({ method: 'GET', url: undefinedID })), 'a parameter missing, the path\'s ID "undefined"')
  // A decoded path that does not end in the route filled with its parameters is taken as it is.
  const withSlash = answerOf(await server.inject({ method: 'GET', url: `${path}/` }))
  t.equal(withSlash.statusCode, 404)
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), rawPath: `${path}/` }, lambdaContext('getUserLoan'))), withSlash, 'HTTP API, a trailing slash')
  const other = `/users/lambda-2/loans/${cached.loans[0]?.loan_id}`
  t.strictSame(answerOf(await lambda.getUserLoan({ ...httpApiEvent(path), rawPath: other }, lambdaContext('getUserLoan'))), answerOf(await server.inject({ method: 'GET', url: other })), 'HTTP API, a path its parameters do not match')
  t.equal((await lambda.getUserLoan({ ...httpApiEvent(path), pathParameters: undefined, rawPath: `/alma${path}` }, lambdaContext('getUserLoan'))).statusCode, 404, 'no parameters to rebuild it from')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...restApiEvent(path), version: '1.0', resource: '$default' }, lambdaContext('getUserLoan'))), expected, 'payload 1.0, $default route')
  t.strictSame(answerOf(await lambda.getUserLoan({ ...restApiEvent(path), resource: '/{proxy+}' }, lambdaContext('getUserLoan'))), expected, 'a greedy route')
  // A REST API's parameters may come encoded as sent: `@` as %40 in both.
  const at = { ...restApiEvent('/users/lambda%40x/loans'), path: '/alma/users/lambda%40x/loans' }
  t.strictSame(answerOf(await lambda.getUserLoans(at, lambdaContext('getUserLoans'))), answerOf(await server.inject({ method: 'GET', url: '/users/lambda%40x/loans' })), 'an encoded ID behind a base path')
  t.strictSame(answerOf(await lambda.getUserLoans({ ...at, pathParameters: { userID: 'lambda%40x' } }, lambdaContext('getUserLoans'))), answerOf(await server.inject({ method: 'GET', url: '/users/lambda%40x/loans' })), 'its parameter as sent')
  const malformed = { ...restApiEvent('/users/bad%zz/loans'), path: '/alma/users/bad%zz/loans' }
  const refused = answerOf(await server.inject({ method: 'GET', url: '/users/bad%zz/loans' }))
  t.equal(refused.statusCode, 400)
  t.strictSame(answerOf(await lambda.getUserLoans(malformed, lambdaContext('getUserLoans'))), refused, 'an escape that does not decode, behind a base path')
})

t.test('an HTTP API decodes %2F into a separator: an ID holding /users/ never reaches another user\'s records', async (t) => {
  // API Gateway matched userID = "x/users/lambda-1"; the decoded path ends like lambda-1's own.
  const event = httpApiEvent('/users/x%2Fusers%2Flambda-1/loans')
  t.equal(event.rawPath, '/users/x/users/lambda-1/loans')
  const response = await lambda.getUserLoans(event, lambdaContext('getUserLoans'))
  t.strictSame(answerOf(response), answerOf(await server.inject({ method: 'GET', url: '/users/x%2Fusers%2Flambda-1/loans' })))
  t.equal(response.statusCode, 400)
})

t.test('an event that is not API Gateway\'s (the console\'s test event) fails with a clear error', async (t) => {
  for (const notProxy of [{ key1: 'value1' }, null, 'text', { rawPath: 42, path: '/users/lambda-1/fees' }]) {
    const event = notProxy as unknown as Parameters<typeof lambda.getUserFees>[0]
    const context = lambdaContext('getUserFees')
    const [logsBefore, metricsBefore] = [logLines.length, metricsLines.length]
    await t.rejects(lambda.getUserFees(event, context), { name: 'TypeError', message: /^Not an API Gateway proxy event/ }, JSON.stringify(notProxy))
    // It never reaches the app (no summary line, no metrics record: Lambda counts it in its Errors),
    // but it is logged, as a failed start is, whatever LOG_LEVEL says (silent here).
    t.match(logLines.slice(logsBefore).map((line) => JSON.parse(line)), [{
      level: 50, msg: 'not an API Gateway proxy event', awsRequestId: context.awsRequestId, err: { type: 'TypeError' }
    }], `${JSON.stringify(notProxy)}: an error line with Lambda's request ID`)
    t.equal(logLines.length - logsBefore, 1, 'one line')
    t.equal(metricsLines.length, metricsBefore, 'no metrics record')
  }
})

t.test('a handler serves its own route only', async (t) => {
  const response = await lambda.getUserLoans(restApiEvent('/users/lambda-1/fees'), lambdaContext('getUserLoans'))
  t.equal(response.statusCode, 404)
})

t.test('an answer larger than Lambda can return is a 502 that says so, not API Gateway\'s opaque 5xx', async (t) => {
  // Lambda refuses a response over 6,291,556 bytes, counted as the JSON it sends: the body an escaped string.
  const LIMIT = 6_291_556
  const asSent = (response: unknown) => Buffer.byteLength(JSON.stringify(response))
  const seedLoans = async (userID: string, loans: number, title: string) => {
    const records = almaUserRecords(userID, { loans, requests: 0, fees: 0 })
    for (const loan of records.loans) loan.title = title
    await stack.writeCacheRows(cacheRowsOf(userID, records, nowSeconds() + DAY))
  }
  // Titles of control characters, 6 bytes each in the body and 7 as sent: large
  // answers from rows small enough for one BatchGetItem of dynalite's (about 1 MB).
  await seedLoans('lambda-big', 4, '\u0001'.repeat(300_000))
  // Titles of quotes, 2 bytes each in the body (a 3.2 MB body) and twice that as sent.
  await seedLoans('lambda-quotes', 8, '"'.repeat(200_000))
  await seedLoans('lambda-fits', 4, '\u0001'.repeat(215_000))
  for (const userID of ['lambda-big', 'lambda-quotes']) {
    const path = `/users/${userID}/loans`
    const fromServer = await server.inject({ method: 'GET', url: path })
    t.equal(fromServer.statusCode, 200, `${userID}: the server, with no such limit, sends it`)
    t.equal(JSON.parse(fromServer.body).length, userID === 'lambda-big' ? 4 : 8)
    const response = await lambda.getUserLoans(restApiEvent(path), lambdaContext('getUserLoans'))
    t.strictSame(answerOf(response), {
      statusCode: 502,
      headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-type': 'application/json; charset=utf-8', 'x-cache': undefined, 'retry-after': undefined },
      body: { statusCode: 502, error: 'Bad Gateway', message: 'The answer is larger than the API can send' }
    }, userID)
  }
  const fits = await lambda.getUserLoans(restApiEvent('/users/lambda-fits/loans'), lambdaContext('getUserLoans'))
  t.equal(fits.statusCode, 200, 'just under the limit: sent')
  t.equal(JSON.parse(fits.body).length, 4)
  t.ok(asSent(fits) > LIMIT - 300_000 && asSent(fits) < LIMIT, `${asSent(fits)} bytes as sent`)

  // A body within the limit by itself, the status and headers beside it taking it over.
  const bodyAsSent = (body: string) => Buffer.byteLength(JSON.stringify(body))
  const fitsBody = bodyAsSent((await server.inject({ method: 'GET', url: '/users/lambda-fits/loans' })).body)
  // Each control character more in the four titles: 4 × 7 bytes more as sent.
  await seedLoans('lambda-edge', 4, '\u0001'.repeat(215_000 + Math.floor((LIMIT - 100 - fitsBody) / 28)))
  const edge = await server.inject({ method: 'GET', url: '/users/lambda-edge/loans' })
  t.ok(bodyAsSent(edge.body) <= LIMIT && asSent({ statusCode: 200, headers: edge.headers, body: edge.body }) > LIMIT,
    `a body of ${bodyAsSent(edge.body)} bytes as sent, with its headers over ${LIMIT}`)
  const edgeAnswer = await lambda.getUserLoans(restApiEvent('/users/lambda-edge/loans'), lambdaContext('getUserLoans'))
  t.equal(edgeAnswer.statusCode, 502, 'the headers counted too')
})

t.test('every metrics record carries both request IDs, as every log line does: a Logs Insights query by reqId finds it too', async (t) => {
  for (const [route, event] of [['getUserFees', restApiEvent('/users/lambda-1/fees')], ['getUserFees', httpApiEvent('/users/lambda-1/fees')], ['getUser', restApiEvent('/users/bad%20id')], ['getUser', restApiEvent('/users/%E0%A4%A')], ['getUser', restApiEvent('/nowhere')]] as const) {
    const context = lambdaContext(route)
    const before = metricsLines.length
    await lambda[route](event, context)
    t.equal(metricsLines.length - before, 1)
    t.match(JSON.parse(metricsLines.at(-1) as string), { reqId: event.requestContext.requestId, awsRequestId: context.awsRequestId }, `${route} ${'rawPath' in event ? event.rawPath : event.path}`)
  }
})
