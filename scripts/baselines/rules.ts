// The service without the framework: its configuration, clients and rules
// (src/resolution/) behind a plain Lambda handler, logging with pino, no
// Fastify or @fastify/aws-lambda. Not a design in use: it measures what a
// cold start would cost if the Lambdas bypassed the app (README, "Cold start"),
// so it answers only the cached single loan the benchmark asks for.
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import { pino } from 'pino'
import { AlmaClient } from '../../src/clients/alma.js'
import { almaKeyProvider } from '../../src/clients/alma-key.js'
import { DynamoCache } from '../../src/clients/dynamo-cache.js'
import { SqsUserQueue } from '../../src/clients/user-queue.js'
import { loadConfig } from '../../src/config.js'
import { isItemID } from '../../src/resolution/identifiers.js'
import { resolveItem } from '../../src/resolution/resolve.js'

let made: ReturnType<typeof make> | undefined

function make () {
  const config = loadConfig()
  return {
    logger: pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: true })),
    context: {
      cache: new DynamoCache({ tables: config.tables }),
      alma: new AlmaClient({ baseUrl: config.almaApiUrl, apiKey: almaKeyProvider(config.almaKey), callTimeoutMs: config.almaCallTimeoutMs }),
      queue: new SqsUserQueue({ queueUrl: config.userQueueUrl, endpointOverride: config.sqsEndpointOverride }),
      now: () => Math.floor(Date.now() / 1000)
    },
    budgetMs: config.requestBudgetMs
  }
}

export async function getUserLoan (event: APIGatewayProxyEvent, context: Context) {
  made ??= make()
  const { userID = '', loanID = '' } = event.pathParameters ?? {}
  if (!isItemID(loanID)) throw new Error('the benchmark asks for a valid loan')
  const log = made.logger.child({ reqId: event.requestContext.requestId, awsRequestId: context.awsRequestId })
  const { value, cache } = await resolveItem({ ...made.context, log, deadline: Date.now() + made.budgetMs }, userID, 'loans', loanID)
  return { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-cache': cache }, body: JSON.stringify(value) }
}
