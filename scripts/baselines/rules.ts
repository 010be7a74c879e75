// The service's rules and clients behind a plain handler (./plain-handler.ts),
// with the AWS SDK's clients the service uses.
import { almaKeyProvider } from '../../src/clients/alma-key.js'
import { DynamoCache } from '../../src/clients/dynamo-cache.js'
import { SqsUserQueue } from '../../src/clients/user-queue.js'
import { plainLoanHandler } from './plain-handler.js'

export const getUserLoan = plainLoanHandler((config) => ({
  cache: new DynamoCache({ tables: config.tables }),
  queue: new SqsUserQueue({ queueUrl: config.userQueueUrl, endpointOverride: config.sqsEndpointOverride }),
  readApiKey: almaKeyProvider(config.almaKey)
}))
