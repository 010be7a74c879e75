import type { AddressInfo } from 'node:net'
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb'
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import dynalite from 'dynalite'
import { startFauxqs, type FauxqsServer } from 'fauxqs'
import type { CacheTables } from '../src/clients/dynamo-cache.js'
import type { AlmaRecord } from '../src/resolution/kinds.js'
import { AlmaSimulator } from './alma-simulator.js'
import type { CacheRowSet } from './demo-records.js'

// The embedded defaults of `npm run dev` and the tests: dynalite and fauxqs in
// this process, and the Alma simulator over HTTP. Everything the app learns
// of them, it learns from the CONTRACT 5 variables in `env`.

export const TABLES: CacheTables = {
  users: 'alma-users',
  loans: 'alma-loans',
  requests: 'alma-requests',
  fees: 'alma-fees'
}
const QUEUE_NAME = 'alma-users-to-refresh'
const REGION = 'eu-west-2'

// CONTRACT 4: the key of each table.
const KEYS: Record<keyof CacheTables, string> = { users: 'primary_id', loans: 'loan_id', requests: 'request_id', fees: 'id' }

export interface EmbeddedStackOptions {
  /** the simulator's key; ignored with `realAlma` */
  almaApiKey?: string
  almaLatencyMs?: number
  /** real Alma at `almaApiUrl` with this key: no simulator */
  realAlma?: { url: string, key: string }
}

export interface EmbeddedStack {
  /** the CONTRACT 5 variables that point the app at this stack */
  env: Record<string, string>
  /** undefined with real Alma */
  alma: AlmaSimulator | undefined
  sqs: FauxqsServer
  documents: DynamoDBDocumentClient
  /** message bodies waiting on the users queue, oldest first */
  queuedUserIDs (): string[]
  /** writes rows as the webhook writer and the bulk updater would */
  writeCacheRows (rows: Partial<CacheRowSet>): Promise<void>
  close (): Promise<void>
}

export async function startEmbeddedStack (options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve))
  const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`

  const sqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, defaultRegion: REGION })
  const { queueUrl } = sqs.createQueue(QUEUE_NAME, { region: REGION })

  const almaApiKey = options.almaApiKey ?? 'embedded-simulator-key'
  const alma = options.realAlma === undefined ? await AlmaSimulator.start({ apiKey: almaApiKey, latencyMs: options.almaLatencyMs }) : undefined

  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
  const client = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials })
  await createTables(client)
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })

  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqs.address,
    USER_CACHE_TABLE_NAME: TABLES.users,
    LOAN_CACHE_TABLE_NAME: TABLES.loans,
    REQUEST_CACHE_TABLE_NAME: TABLES.requests,
    FEE_CACHE_TABLE_NAME: TABLES.fees,
    USER_QUEUE_URL: queueUrl,
    ALMA_API_URL: options.realAlma?.url ?? (alma as AlmaSimulator).url,
    ALMA_API_KEY: options.realAlma?.key ?? almaApiKey
  }

  return {
    env,
    alma,
    sqs,
    documents,
    queuedUserIDs: () => sqs.inspectQueue(QUEUE_NAME)?.messages.ready.map((message) => message.body) ?? [],
    writeCacheRows: (rows) => writeRows(documents, rows),
    async close () {
      documents.destroy()
      await Promise.all([
        alma?.close(),
        sqs.stop(),
        new Promise<void>((resolve, reject) => dynamo.close((error) => (error ? reject(error) : resolve())))
      ])
    }
  }
}

async function createTables (client: DynamoDBClient): Promise<void> {
  const { TableNames = [] } = await client.send(new ListTablesCommand({}))
  await Promise.all(Object.entries(TABLES).map(async ([table, name]) => {
    if (TableNames.includes(name)) return
    const key = KEYS[table as keyof CacheTables]
    await client.send(new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: name })
  }))
}

async function writeRows (documents: DynamoDBDocumentClient, rows: Partial<CacheRowSet>): Promise<void> {
  const puts: Array<[string, AlmaRecord]> = [
    ...(rows.user === undefined ? [] : [[TABLES.users, rows.user] as [string, AlmaRecord]]),
    ...(rows.loans ?? []).map((row): [string, AlmaRecord] => [TABLES.loans, row]),
    ...(rows.requests ?? []).map((row): [string, AlmaRecord] => [TABLES.requests, row]),
    ...(rows.fees ?? []).map((row): [string, AlmaRecord] => [TABLES.fees, row])
  ]
  for (let start = 0; start < puts.length; start += 25) {
    const requestItems: Record<string, Array<{ PutRequest: { Item: AlmaRecord } }>> = {}
    for (const [table, item] of puts.slice(start, start + 25)) (requestItems[table] ??= []).push({ PutRequest: { Item: item } })
    await documents.send(new BatchWriteCommand({ RequestItems: requestItems }))
  }
}
