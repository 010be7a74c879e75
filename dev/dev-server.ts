import { ConfigError, DEFAULT_ALMA_API_URL, loadConfig, variable } from '../src/config.js'
import { KINDS } from '../src/resolution/kinds.js'
import { listenAddress, startFailure, startServer } from '../src/server.js'
import { ALMA_CALLS_PER_SECOND } from './alma-simulator.js'
import { apiDocsPage } from './api-docs.js'
import { seedDemoUsers } from './demo-users.js'
import { PeerSetupError, startEmbeddedStack } from './embedded-stack.js'

// npm run dev: the server on embedded defaults, seeded with demo users.
// With ALMA_API_KEY set, real Alma at ALMA_API_URL answers instead of the simulator;
// with AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL_SQS set, those peers (the
// containers of docker-compose.yml, say) stand in for the in-process ones.

const given = (name: string) => variable(process.env, name)

/** A whole number of at most `digits` digits from the environment variable `name`; undefined when unset. */
function wholeNumber (name: string, digits: number, unit: string): number | undefined {
  const text = given(name)
  if (text === undefined) return undefined
  if (!new RegExp(`^\\d{1,${digits}}$`).test(text)) throw new ConfigError([], [`${name} (whole ${unit}, 0 to ${'9'.repeat(digits)})`])
  return Number(text)
}

async function main (): Promise<void> {
  // PORT and HOST first: a typo there should not wait on a whole stack starting.
  const { port, host } = listenAddress()
  const realKey = given('ALMA_API_KEY')
  const almaCallsPerDay = wholeNumber('ALMA_SIMULATOR_CALLS_PER_DAY', 9, 'calls')
  const stack = await startEmbeddedStack({
    realAlma: realKey === undefined ? undefined : { url: given('ALMA_API_URL') ?? DEFAULT_ALMA_API_URL, key: realKey },
    // What the simulator adds to each answer.
    almaLatencyMs: wholeNumber('ALMA_SIMULATOR_LATENCY_MS', 5, 'milliseconds') ?? 50,
    // As Alma does (alma-api.md): past its per-second threshold, 429. The bench, the load script
    // and most tests leave it off: they count calls, and drive more than one institution's worth.
    almaCallsPerSecond: ALMA_CALLS_PER_SECOND,
    // A daily quota only when asked for, to rehearse its running out: the expired copies
    // and 503s patrons then get, and the log lines an alarm would catch.
    almaCallsPerDay,
    dynamoEndpoint: given('AWS_ENDPOINT_URL_DYNAMODB'),
    sqsEndpoint: given('AWS_ENDPOINT_URL_SQS')
  })
  const demoUsers = await seedDemoUsers(stack)
  Object.assign(process.env, stack.env)
  const app = await startServer({ config: loadConfig(), plugins: [apiDocsPage], port, host, onClose: stack.close })

  const listening = (app.server.address() as { port: number }).port
  // An IPv6 address goes in brackets in a URL.
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${listening}`
  // The built server on this same stack: its whole configuration, but a real Alma key, which is
  // never printed (the shell fills it in from the environment it was given in).
  const { ALMA_API_KEY: simulatorKey, ...stackEnv } = stack.env
  const serverEnv = { ...stackEnv, PORT: String(listening + 1), HOST: host }
  const keyAssignment = stack.alma === undefined ? 'ALMA_API_KEY="$ALMA_API_KEY"' : `ALMA_API_KEY='${simulatorKey}'`
  const lines = [
    '',
    `Alma cache API on ${base} (${stack.alma === undefined ? `real Alma at ${stack.env.ALMA_API_URL}` : `Alma simulator at ${stack.env.ALMA_API_URL}${almaCallsPerDay === undefined ? '' : `, refusing every call past ${almaCallsPerDay} with 429 DAILY_THRESHOLD`}`})`,
    `DynamoDB at ${stack.env.AWS_ENDPOINT_URL_DYNAMODB}, SQS at ${stack.env.AWS_ENDPOINT_URL_SQS}`,
    `The API, described and browsable: ${base}/docs (the OpenAPI document: ${base}/docs/json)`,
    'Try:',
    // The demo users' Alma records are the simulator's.
    ...(stack.alma === undefined ? ['  (With real Alma only demo-cached answers as described, from the cache; to Alma the others are unknown users: 404.)'] : []),
    ...demoUsers.flatMap(({ userID, about, items }) => [
      `  ${about}:`,
      `    ${base}/users/${userID}`,
      ...KINDS.map((kind) => `    ${base}/users/${userID}/${kind}`),
      ...items.map((path) => `    ${base}/users/${userID}/${path}`)
    ]),
    `Queued users go to ${stack.env.USER_QUEUE_URL}.`,
    `The built server (npm run build) on this stack, from another shell${stack.alma === undefined ? ' where ALMA_API_KEY is exported' : ''}:`,
    `  ${[...Object.entries(serverEnv).map(([name, value]) => `${name}='${value}'`), keyAssignment].join(' ')} node dist/server.js`,
    'Ctrl-C stops everything.',
    ''
  ]
  console.log(lines.join('\n'))
}

main().catch((error: unknown) => {
  console.error(error instanceof PeerSetupError ? error.message : startFailure(error))
  process.exit(1)
})
