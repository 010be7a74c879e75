// The service without the framework: its configuration, Alma client and rules
// (src/resolution/) behind a plain Lambda handler, logging with pino, no
// Fastify or @fastify/aws-lambda. Not a design in use: it measures what a
// cold start would cost if the Lambdas bypassed the app (README, "Cold start"),
// so it answers only the cached single loan the benchmark asks for. The cache
// and the users queue come from the caller, so that AWS's clients can be swapped.
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import { pino } from 'pino'
import { AlmaClient } from '../../src/clients/alma.js'
import { loadConfig, type Config } from '../../src/config.js'
import { isItemID } from '../../src/resolution/identifiers.js'
import type { CacheReader, UserQueue } from '../../src/resolution/ports.js'
import { resolveItem } from '../../src/resolution/resolve.js'

export interface AwsClients {
  cache: CacheReader
  queue: UserQueue
  readApiKey: (deadline: number) => Promise<string>
}

export function plainLoanHandler (makeAwsClients: (config: Config) => AwsClients) {
  let made: ReturnType<typeof make> | undefined
  function make () {
    const config = loadConfig()
    const { cache, queue, readApiKey } = makeAwsClients(config)
    return {
      logger: pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: true })),
      context: {
        cache,
        queue,
        alma: new AlmaClient({ baseUrl: config.almaApiUrl, readApiKey, callTimeoutMs: config.almaCallTimeoutMs }),
        now: () => Math.floor(Date.now() / 1000)
      },
      budgetMs: config.requestBudgetMs
    }
  }
  return async function getUserLoan (event: APIGatewayProxyEvent, context: Context) {
    made ??= make()
    const { userID = '', loanID = '' } = event.pathParameters ?? {}
    if (!isItemID(loanID)) throw new Error('the benchmark asks for a valid loan')
    const log = made.logger.child({ reqId: event.requestContext.requestId, awsRequestId: context.awsRequestId })
    const { value, cache } = await resolveItem({ ...made.context, log, deadline: Date.now() + made.budgetMs }, userID, 'loans', loanID)
    return { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-cache': cache }, body: JSON.stringify(value) }
  }
}
