import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { AlmaSimulator } from '../dev/alma-simulator.js'
import { startEmbeddedStack, type EmbeddedStack, type EmbeddedStackOptions } from '../dev/embedded-stack.js'

// Random-looking, so that no run of its characters turns up in a log by chance.
export const ALMA_TEST_KEY = 'Kq7vZx3Tn9Wp2Lr5Yc8Hb4Md'

/** Whether `text` holds the key, or any run of 6 of its characters (a key cut short, or masked but for its start). */
export const holdsKeyPart = (text: string, key: string = ALMA_TEST_KEY): boolean =>
  Array.from({ length: key.length - 5 }, (_, start) => key.slice(start, start + 6)).some((part) => text.includes(part))

export interface TestStack extends EmbeddedStack {
  alma: AlmaSimulator
}

/**
 * dynalite, fauxqs and the Alma simulator, and the process environment pointing at them.
 * TEST_DYNAMODB_ENDPOINT runs the suite against another DynamoDB (DynamoDB Local in
 * .ci/run), with tables of its own for each stack.
 */
export async function startTestStack (t: Test, options: EmbeddedStackOptions = {}): Promise<TestStack> {
  const dynamoEndpoint = process.env.TEST_DYNAMODB_ENDPOINT
  const shared = dynamoEndpoint === undefined || dynamoEndpoint === '' ? {} : { dynamoEndpoint, uniqueTables: true }
  const stack = await startEmbeddedStack({ almaApiKey: ALMA_TEST_KEY, ...shared, ...options })
  Object.assign(process.env, stack.env)
  t.teardown(() => stack.close())
  return stack as TestStack
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>
  /** every log line the app wrote so far, parsed */
  logs: () => Array<Record<string, unknown>>
  /** the raw log output, for searching */
  rawLogs: () => string
}

/** The app as `npm run dev` builds it, configured by the stack's environment only. */
export async function buildTestApp (t: Test, overrides: Partial<AppOptions> = {}): Promise<TestApp> {
  const lines: string[] = []
  const app = await buildApp({
    config: loadConfig(),
    logger: { level: 'debug', stream: { write: (line: string) => { lines.push(line) } } },
    almaRetryBaseDelayMs: 5,
    ...overrides
  })
  t.teardown(() => app.close())
  return {
    app,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => lines.join('')
  }
}

export { DAY, nowSeconds } from '../dev/demo-records.js'
