import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import { startFauxqs } from 'fauxqs'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { loadConfig } from '../src/config.js'
import { devCommand, servingDev, spawnDev } from './support/dev-command.js'

// `npm run dev` against peers it did not start (as with docker-compose.yml's
// DynamoDB Local and SQS emulator): it makes the tables and the queue when they
// are missing, seeds the demo users, and serves them. Started twice, to show
// that existing tables and queue are fine. (The starts that fail are in
// dev-server-failures.test.ts: each child takes seconds to start on a busy
// machine, and all of them in one file came near tap's 60 s for a file.)

const dynamo = dynalite({ createTableMs: 0 })
await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => { dynamo.close(() => resolve()) }))
const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`
const sqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
t.teardown(() => sqs.stop())

t.equal(devCommand[0], 'node', 'npm run dev runs node itself, with no process of its own between the signals and the server')

/** `npm run dev` on this test's DynamoDB and SQS, once it is serving: its base URL and all it printed. */
async function startDev (t: Test, env: Record<string, string> = {}): Promise<{ child: ChildProcessWithoutNullStreams, base: string, printed: string }> {
  const child = spawnDev(t, {
    PORT: '0',
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqs.address,
    ALMA_SIMULATOR_LATENCY_MS: '0',
    LOG_LEVEL: 'warn',
    ...env
  })
  return { child, ...await servingDev(child) }
}

async function runDev (t: Test, env: Record<string, string> = {}): Promise<void> {
  const { child, base, printed } = await startDev(t, env)
  t.match(printed, `DynamoDB at ${dynamoEndpoint}, SQS at ${sqs.address}`)
  t.notMatch(printed, /With real Alma/, 'the simulator\'s demo users answer as described')
  const command = /^ {2}(.*) node dist\/server\.js$/m.exec(printed)?.[1] ?? ''
  const serverEnv = Object.fromEntries([...command.matchAll(/(\w+)='([^']*)'/g)].map(([, name, value]) => [name, value]))
  t.doesNotThrow(() => loadConfig(serverEnv), 'a command for the built server on the same stack, with its whole configuration')
  t.match(serverEnv, { AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint, AWS_ACCESS_KEY_ID: String, PORT: /^\d+$/, HOST: env.HOST ?? '127.0.0.1' }, 'on the address the dev server was given')
  const tried = [...printed.matchAll(/^ {4}(http:\/\/\S+)$/gm)].map((match) => match[1] as string)
  const endpoints = new Set(tried.map((url) => new URL(url).pathname.replace(/^\/users\/[^/]+/, '/users/{userID}').replace(/\/(loans|requests|fees)\/[^/]+$/, '/$1/{id}')))
  t.equal(endpoints.size, 7, 'URLs to try, for all seven endpoints')
  const users = new Set(tried.map((url) => new URL(url).pathname.split('/')[2]))
  t.equal(tried.length, 7 * users.size, 'all seven for every demo user')
  for (const url of tried) {
    const response = await request(url)
    t.equal(response.statusCode, 200, url)
    await response.body.dump()
  }
  const cached = await request(`${base}/users/demo-cached`)
  t.equal(cached.headers['x-cache'], 'hit', 'seeded')
  await cached.body.dump()
  child.kill('SIGTERM')
  await once(child, 'exit')
}

t.test('first start: tables and queue made, demo users seeded and served', async (t) => {
  await runDev(t)
  const client = new DynamoDBClient({ endpoint: dynamoEndpoint, region: 'eu-west-2', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
  t.teardown(() => client.destroy())
  const { TableNames } = await client.send(new ListTablesCommand({}))
  t.same(TableNames?.sort(), ['alma-fees', 'alma-loans', 'alma-requests', 'alma-users'])
  const queued = sqs.inspectQueue('alma-users-to-refresh')?.messages.ready.map((message) => message.body) ?? []
  t.ok(queued.includes('demo-alma-only'), 'users without a cache record were queued there')
})

t.test('second start: the same tables and queue (and on an IPv6 address, URLs that work)', async (t) => {
  await runDev(t, { HOST: '::1' })
})

t.test('Ctrl-C while requests wait on Alma: each is answered, then npm run dev exits cleanly', async (t) => {
  // At debug level: each request's DynamoDB read is a line, the sign that the server has taken it.
  const { child, base } = await startDev(t, { ALMA_SIMULATOR_LATENCY_MS: '1500', LOG_LEVEL: 'debug' })
  const reading = new Set<string>()
  let logged = ''
  const allReading = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${reading.size} of 8 requests reached the server: ${logged.slice(-2000)}`)) }, 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      logged += chunk.toString()
      // Whole lines only: a chunk can end mid-line.
      const lines = logged.split('\n').slice(0, -1)
      for (const line of lines.filter((line) => line.includes('"DynamoDB call"'))) reading.add(String((JSON.parse(line) as { reqId?: unknown }).reqId))
      if (reading.size >= 8) { clearTimeout(timer); resolve() }
    })
  })
  // The uncached demo user: each request waits on the simulator's 1.5 s after its DynamoDB read.
  // Ctrl-C comes once all eight have reached the server (once it closes, a connection it has not
  // yet taken would be refused), not after a fixed time that a busy machine can outlast.
  const inFlight = Array.from({ length: 8 }, async () => {
    const response = await request(`${base}/users/demo-alma-only/loans`)
    await response.body.dump()
    return response.statusCode
  })
  await allReading
  const exited = once(child, 'exit')
  child.kill('SIGINT')
  t.same(await Promise.all(inFlight), Array(8).fill(200), 'every request under way when Ctrl-C came is answered')
  t.same(await exited, [0, null], 'then the process ends by itself, with status 0')
})

t.test('the simulator of npm run dev refuses calls past Alma\'s per-second threshold, as Alma does; the service waits them out', async (t) => {
  const { child, base } = await startDev(t, { LOG_LEVEL: 'debug' })
  let logged = ''
  child.stdout.on('data', (chunk: Buffer) => { logged += chunk.toString() })
  // The uncached demo user costs three Alma calls: twelve at once are 36 calls within the second.
  const statuses = await Promise.all(Array.from({ length: 12 }, async () => {
    const response = await request(`${base}/users/demo-alma-only`)
    await response.body.dump()
    return response.statusCode
  }))
  t.same(statuses, Array(12).fill(200), 'every refused call retried after the second, and answered')
  // Read once the process has closed its output: a line and an answer come by different pipes.
  child.kill('SIGTERM')
  await once(child, 'close')
  const refused = logged.split('\n').filter((line) => line.includes('"Alma call"') && line.includes('"status":429')).length
  t.ok(refused > 0, `${refused} Alma calls refused with 429`)
})

t.test('with real Alma, the built server\'s command takes the key from the shell: never printed', async (t) => {
  const key = 'real-alma-key-never-printed-77'
  const child = spawnDev(t, {
    PORT: '0',
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqs.address,
    ALMA_API_KEY: key,
    ALMA_API_URL: 'http://127.0.0.1:1',
    LOG_LEVEL: 'warn'
  })
  let printed = ''
  child.stderr.on('data', (chunk: Buffer) => { printed += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no Ctrl-C line: ${printed}`)), 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString()
      if (/Ctrl-C/.test(printed)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  t.match(printed, /real Alma at http:\/\/127\.0\.0\.1:1/)
  t.match(printed, /With real Alma only demo-cached answers as described/, 'the other demo users are the simulator\'s')
  t.match(printed, /from another shell where ALMA_API_KEY is exported:\n {2}.* ALMA_API_KEY="\$ALMA_API_KEY" node dist\/server\.js$/m)
  t.notMatch(printed, key)
  child.kill('SIGTERM')
  await once(child, 'exit')
})
