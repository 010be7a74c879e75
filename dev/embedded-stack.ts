import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { CreateTableCommand, DynamoDBClient, paginateListTables, waitUntilTableExists } from '@aws-sdk/client-dynamodb'
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs'
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import dynalite from 'dynalite'
import { buildApp as buildFauxqs } from 'fauxqs'
import type { CacheTables } from '../src/clients/dynamo-cache.js'
import { CACHE_KEY_FIELDS, type AlmaRecord } from '../src/resolution/kinds.js'
import { AlmaSimulator } from './alma-simulator.js'
import type { CacheRowSet } from './demo-records.js'

type FauxqsApp = ReturnType<typeof buildFauxqs>

// The embedded defaults of `npm run dev` and the tests: dynalite and fauxqs in
// this process, and the Alma simulator over HTTP. Any of the first two can be
// a real peer instead (DynamoDB Local, an SQS emulator: see docker-compose.yml),
// given by its endpoint; its tables and queue are made when missing. Everything
// the app learns of them, it learns from the CONTRACT 5 variables in `env`.

const TABLES: CacheTables = {
  users: 'alma-users',
  loans: 'alma-loans',
  requests: 'alma-requests',
  fees: 'alma-fees'
}
const QUEUE_NAME = 'alma-users-to-refresh'
const REGION = 'eu-west-2'

export interface EmbeddedStackOptions {
  /** the simulator's key; ignored with `realAlma` */
  almaApiKey?: string
  almaLatencyMs?: number
  /** the simulator's per-second threshold (see AlmaSimulatorOptions); off unless set */
  almaCallsPerSecond?: number
  /** the simulator's daily threshold (see AlmaSimulatorOptions); off unless set */
  almaCallsPerDay?: number
  /** real Alma at this URL, with this key: no simulator */
  realAlma?: { url: string, key: string }
  /** a DynamoDB to use instead of dynalite, such as DynamoDB Local */
  dynamoEndpoint?: string
  /** an SQS (JSON protocol) to use instead of fauxqs, such as ElasticMQ */
  sqsEndpoint?: string
  /** table names made unique to this stack, for test runs sharing one DynamoDB */
  uniqueTables?: boolean
}

export interface EmbeddedStack {
  /** the CONTRACT 5 variables that point the app at this stack */
  env: Record<string, string>
  /** undefined with real Alma */
  alma: AlmaSimulator | undefined
  tables: CacheTables
  documents: DynamoDBDocumentClient
  /** message bodies waiting on the users queue, oldest first (the embedded queue only) */
  queuedUserIDs (): Promise<string[]>
  /** writes rows as the webhook writer and the bulk updater would */
  writeCacheRows (rows: Partial<CacheRowSet>): Promise<void>
  close (): Promise<void>
}

export async function startEmbeddedStack (options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
  const tables = options.uniqueTables === true ? uniqueTableNames() : TABLES

  const dynamo = options.dynamoEndpoint === undefined ? await startDynalite() : undefined
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo as StartedDynalite).endpoint
  const client = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials, requestHandler: SETUP_TIMEOUTS })
  await settingUp('DynamoDB', dynamoEndpoint, () => createTables(client, tables))
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })

  // Listening on loopback only, as every peer here: fauxqs's own start listens on every
  // interface, and the queue holds the user IDs asked for (real patrons' with real Alma).
  const fauxqs = options.sqsEndpoint === undefined ? buildFauxqs({ host: '127.0.0.1', logger: false, defaultRegion: REGION }) : undefined
  const sqsEndpoint = options.sqsEndpoint ?? await (fauxqs as FauxqsApp).listen({ port: 0, host: '127.0.0.1' })
  const queueUrl = await settingUp('SQS', sqsEndpoint, () => createQueue(sqsEndpoint, credentials))

  const almaApiKey = options.almaApiKey ?? 'embedded-simulator-key'
  const alma = options.realAlma === undefined ? await AlmaSimulator.start({ apiKey: almaApiKey, latencyMs: options.almaLatencyMs, callsPerSecond: options.almaCallsPerSecond, callsPerDay: options.almaCallsPerDay }) : undefined

  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    USER_CACHE_TABLE_NAME: tables.users,
    LOAN_CACHE_TABLE_NAME: tables.loans,
    REQUEST_CACHE_TABLE_NAME: tables.requests,
    FEE_CACHE_TABLE_NAME: tables.fees,
    USER_QUEUE_URL: queueUrl,
    ALMA_API_URL: options.realAlma?.url ?? (alma as AlmaSimulator).url,
    ALMA_API_KEY: options.realAlma?.key ?? almaApiKey
  }

  return {
    env,
    alma,
    tables,
    documents,
    async queuedUserIDs () {
      if (fauxqs === undefined) throw new Error('queuedUserIDs reads the embedded queue only')
      // fauxqs's inspection route: it reads the queue without receiving from it.
      const { messages } = (await fauxqs.inject(`/_fauxqs/queues/${QUEUE_NAME}`)).json<{ messages: { ready: Array<{ body: string }> } }>()
      return messages.ready.map((message) => message.body)
    },
    writeCacheRows: (rows) => writeRows(documents, tables, rows),
    async close () {
      documents.destroy()
      await Promise.all([alma?.close(), fauxqs?.close(), dynamo?.close()])
    }
  }
}

// Left to its defaults, the SDK waits on a peer that takes a connection and never answers
// for good (past a requestTimeout it only warns, unless told to throw): a port held by
// something else would keep npm run dev silent.
const SETUP_TIMEOUTS = { connectionTimeout: 2000, requestTimeout: 5000, throwOnRequestTimeout: true }

/** A DynamoDB or SQS named by its endpoint that could not be set up: which one, and what to check. */
export class PeerSetupError extends Error {
  constructor (peer: string, endpoint: string, cause: unknown) {
    const status = (cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
    const said = cause instanceof Error ? cause.message || cause.name : String(cause)
    const reason = said.replace(/\.$/, '') + (status === undefined ? '' : ` (HTTP ${status})`)
    super(`Could not set up ${peer} at ${endpoint}: ${reason}. Is it running? (docker-compose.yml's: docker compose up -d)`, { cause })
    this.name = 'PeerSetupError'
  }
}

async function settingUp<T> (peer: string, endpoint: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw new PeerSetupError(peer, endpoint, error)
  }
}

interface StartedDynalite { endpoint: string, close (): Promise<void> }

async function startDynalite (): Promise<StartedDynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
  }
}

function uniqueTableNames (): CacheTables {
  const suffix = randomUUID().slice(0, 8)
  return Object.fromEntries(Object.entries(TABLES).map(([table, name]) => [table, `${name}-${suffix}`])) as unknown as CacheTables
}

/** CreateQueue is idempotent: the queue's URL, whether it was there or not. */
async function createQueue (endpoint: string, credentials: { accessKeyId: string, secretAccessKey: string }): Promise<string> {
  const sqs = new SQSClient({ endpoint, region: REGION, credentials, requestHandler: SETUP_TIMEOUTS })
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: QUEUE_NAME }))
    return QueueUrl as string
  } finally {
    sqs.destroy()
  }
}

async function createTables (client: DynamoDBClient, tables: CacheTables): Promise<void> {
  // ListTables names 100 tables at most a call: a shared DynamoDB may hold more, ours among the later ones.
  const TableNames: string[] = []
  for await (const page of paginateListTables({ client }, {})) TableNames.push(...(page.TableNames ?? []))
  await Promise.all(Object.entries(tables).map(async ([table, name]) => {
    if (TableNames.includes(name)) return
    const key = CACHE_KEY_FIELDS[table as keyof CacheTables]
    await client.send(new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: name })
  }))
}

async function writeRows (documents: DynamoDBDocumentClient, tables: CacheTables, rows: Partial<CacheRowSet>): Promise<void> {
  const puts: Array<[string, AlmaRecord]> = [
    ...(rows.user === undefined ? [] : [[tables.users, rows.user] as [string, AlmaRecord]]),
    ...(rows.loans ?? []).map((row): [string, AlmaRecord] => [tables.loans, row]),
    ...(rows.requests ?? []).map((row): [string, AlmaRecord] => [tables.requests, row]),
    ...(rows.fees ?? []).map((row): [string, AlmaRecord] => [tables.fees, row])
  ]
  for (let start = 0; start < puts.length; start += 25) {
    const requestItems: Record<string, Array<{ PutRequest: { Item: AlmaRecord } }>> = {}
    for (const [table, item] of puts.slice(start, start + 25)) (requestItems[table] ??= []).push({ PutRequest: { Item: item } })
    await documents.send(new BatchWriteCommand({ RequestItems: requestItems }))
  }
}
