import { DEFAULT_ALMA_API_URL, loadConfig } from '../src/config.js'
import { startServer } from '../src/server.js'
import { seedDemoUsers } from './demo-users.js'
import { startEmbeddedStack } from './embedded-stack.js'

// npm run dev: the server on embedded defaults, seeded with demo users.
// With ALMA_API_KEY set, real Alma at ALMA_API_URL answers instead of the simulator.

const realKey = process.env.ALMA_API_KEY
const stack = await startEmbeddedStack({
  realAlma: realKey === undefined || realKey === '' ? undefined : { url: process.env.ALMA_API_URL ?? DEFAULT_ALMA_API_URL, key: realKey },
  almaLatencyMs: Number(process.env.ALMA_SIMULATOR_LATENCY_MS ?? 50)
})
const demoUsers = await seedDemoUsers(stack)
Object.assign(process.env, stack.env)

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const app = await startServer({ config: loadConfig(), port, host, onClose: stack.close })

const base = `http://${host}:${(app.server.address() as { port: number }).port}`
const lines = [
  '',
  `Alma cache API on ${base} (${stack.alma === undefined ? `real Alma at ${stack.env.ALMA_API_URL}` : `Alma simulator at ${stack.env.ALMA_API_URL}`})`,
  'Try:',
  ...demoUsers.flatMap(({ userID, about, items }) => [
    `  ${about}:`,
    `    ${base}/users/${userID}`,
    `    ${base}/users/${userID}/loans`,
    ...items.map((path) => `    ${base}/users/${userID}/${path}`)
  ]),
  `Queued users are in the embedded SQS queue (${stack.env.USER_QUEUE_URL}); Ctrl-C stops everything.`,
  ''
]
console.log(lines.join('\n'))
