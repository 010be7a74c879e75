import { once } from 'node:events'
import { createServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import dynalite from 'dynalite'
import t from 'tap'
import { spawnDev } from './support/dev-command.js'

// `npm run dev` when it cannot start: a bad setting, or a DynamoDB or SQS it
// cannot reach. (Split from dev-server.test.ts, whose children, each taking
// seconds to start on a busy machine, came near tap's 60 s for one file.)

// A DynamoDB that works, for the run whose SQS does not.
const dynamo = dynalite({ createTableMs: 0 })
await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => { dynamo.close(() => resolve()) }))
const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`

t.test('a bad PORT or simulator setting stops npm run dev at once, in one line', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT (not a port number: abc)'],
    [{ PORT: '0', ALMA_SIMULATOR_LATENCY_MS: 'fast' }, 'ALMA_SIMULATOR_LATENCY_MS (whole milliseconds, 0 to 99999)'],
    [{ PORT: '0', ALMA_SIMULATOR_CALLS_PER_DAY: '-1' }, 'ALMA_SIMULATOR_CALLS_PER_DAY (whole calls, 0 to 999999999)']
  ]
  for (const [env, problem] of cases) {
    const child = spawnDev(t, env)
    let printed = ''
    child.stderr.on('data', (chunk: Buffer) => { printed += chunk.toString() })
    child.stdout.on('data', (chunk: Buffer) => { printed += chunk.toString() })
    const [code] = await once(child, 'exit')
    t.equal(code, 1)
    t.equal(printed.trim(), `Invalid configuration: ${problem}. See "Configuration" in docs/operations.md.`)
  }
})

t.test('a DynamoDB or SQS endpoint where nothing answers stops npm run dev in one line saying which', async (t) => {
  // A port held by something that takes connections and never answers (reading them, so that it sees them end).
  const silent = createNetServer((socket) => { socket.resume() })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { silent.close(() => resolve()) }))
  const quiet = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
  // Something else, answering HTTP: its status is named.
  const other = createServer((request, response) => { response.writeHead(404).end() })
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { other.close(() => resolve()) }))
  const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
  // A port just closed: nothing listens there. Closed last, so that the servers above cannot
  // be given it (a run had the 404 server on the port the refused cases were to find empty).
  const closed = dynalite()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const nowhere = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
  await new Promise<void>((resolve) => { closed.close(() => resolve()) })
  const cases = [
    ['DynamoDB', nowhere, { AWS_ENDPOINT_URL_DYNAMODB: nowhere }, /ECONNREFUSED/],
    ['SQS', nowhere, { AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint, AWS_ENDPOINT_URL_SQS: nowhere }, /ECONNREFUSED/],
    ['DynamoDB', quiet, { AWS_ENDPOINT_URL_DYNAMODB: quiet }, /./],
    ['DynamoDB', elsewhere, { AWS_ENDPOINT_URL_DYNAMODB: elsewhere }, /\(HTTP 404\)/]
  ] as const
  for (const [peer, endpoint, env, reason] of cases) {
    const child = spawnDev(t, { PORT: '0', AWS_MAX_ATTEMPTS: '1', ...env })
    let printed = ''
    child.stderr.on('data', (chunk: Buffer) => { printed += chunk.toString() })
    const [code] = await once(child, 'exit')
    t.equal(code, 1)
    // Last, after the AWS SDK's warning about Node 20 (see the README).
    const last = printed.trim().split('\n').at(-1) ?? ''
    t.match(last, new RegExp(`^Could not set up ${peer} at ${endpoint.replaceAll('.', '\\.')}: .+\\. Is it running\\? \\(docker-compose\\.yml's: docker compose up -d\\)$`), `${peer} at ${endpoint}`)
    t.match(last, reason)
    t.notMatch(printed, /\n\s+at /, 'no stack trace')
  }
})
