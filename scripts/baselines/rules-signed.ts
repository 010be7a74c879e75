// The service's rules behind a plain handler (./plain-handler.ts), with no AWS
// SDK client: DynamoDB, SQS and SSM called through ./aws-json.ts. The one
// arrangement measured under the cold-start target (README, "Cold start").
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { CACHE_KEY_FIELDS } from '../../src/resolution/kinds.js'
import type { CacheKey, CacheRows, CacheTable } from '../../src/resolution/ports.js'
import { awsJsonClient } from './aws-json.js'
import { plainLoanHandler } from './plain-handler.js'
import { env } from './signing.js'

const endpoint = (service: string) => process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? `https://${service}.${env('AWS_REGION')}.amazonaws.com`

export const getUserLoan = plainLoanHandler((config) => {
  const dynamodb = awsJsonClient({ service: 'dynamodb', target: 'DynamoDB_20120810', version: '1.0', endpoint: endpoint('dynamodb') })
  const item = (row: unknown) => unmarshall(row as Parameters<typeof unmarshall>[0], { wrapNumbers: Number })
  const { almaKey } = config
  return {
    cache: {
      async getUser (userKey: string) {
        const { Item } = await dynamodb('GetItem', { TableName: config.tables.users, Key: { [CACHE_KEY_FIELDS.users]: { S: userKey } } })
        return Item === undefined ? undefined : item(Item)
      },
      // One BatchGetItem: enough for the benchmark's single loan (no chunks, no unprocessed keys).
      async getRows (keys: readonly CacheKey[]): Promise<CacheRows> {
        const requestItems: Record<string, { Keys: Record<string, { S: string }>[] }> = {}
        for (const { table, id } of keys) (requestItems[config.tables[table]] ??= { Keys: [] }).Keys.push({ [CACHE_KEY_FIELDS[table]]: { S: id } })
        const { Responses } = await dynamodb('BatchGetItem', { RequestItems: requestItems }) as { Responses: Record<string, unknown[]> }
        return new Map((Object.keys(CACHE_KEY_FIELDS) as CacheTable[]).map((table) =>
          [table, new Map((Responses[config.tables[table]] ?? []).map(item).map((row) => [String(row[CACHE_KEY_FIELDS[table]]), row]))]))
      }
    },
    queue: {
      async send (userID: string) {
        await awsJsonClient({ service: 'sqs', target: 'AmazonSQS', version: '1.0', endpoint: process.env.AWS_ENDPOINT_URL_SQS ?? new URL(config.userQueueUrl).origin })('SendMessage', { QueueUrl: config.userQueueUrl, MessageBody: userID })
      }
    },
    readApiKey: 'key' in almaKey
      ? async () => almaKey.key
      : async () => {
        const { Parameter } = await awsJsonClient({ service: 'ssm', target: 'AmazonSSM', version: '1.1', endpoint: endpoint('ssm') })('GetParameter', { Name: almaKey.parameterName, WithDecryption: true })
        return (Parameter as { Value: string }).Value
      }
  }
})
