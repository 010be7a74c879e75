import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import t from 'tap'
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import { startEmbeddedStack } from '../dev/embedded-stack.js'
import { startTestStack } from './helper.js'

// The embedded peers hold personal data (the queue: the user IDs asked for, real
// patrons' with real Alma): reachable from this machine only, never the network.

const stack = await startTestStack(t)

/** How a TCP connection to host:port ends: 'connected', or the error's code. */
const tryConnect = (host: string, port: number) => new Promise<string>((resolve) => {
  const socket = connect({ host, port })
  socket.once('connect', () => { socket.destroy(); resolve('connected') })
  socket.once('error', (error: NodeJS.ErrnoException) => { resolve(error.code ?? error.message) })
})

const outward = Object.values(networkInterfaces()).flat().find((address) => address?.family === 'IPv4' && !address.internal)?.address

t.test('the embedded DynamoDB, SQS and Alma simulator listen on loopback only', { skip: outward === undefined ? 'this machine has no network address besides loopback' : false }, async (t) => {
  // Against DynamoDB Local (TEST_DYNAMODB_ENDPOINT), the DynamoDB is not the stack's own.
  const embedded = (process.env.TEST_DYNAMODB_ENDPOINT ?? '') === '' ? ['AWS_ENDPOINT_URL_DYNAMODB'] : []
  for (const name of [...embedded, 'AWS_ENDPOINT_URL_SQS', 'ALMA_API_URL']) {
    const { hostname, port } = new URL(stack.env[name] as string)
    t.equal(await tryConnect(hostname, Number(port)), 'connected', `${name} answers on ${hostname}`)
    t.equal(await tryConnect(outward as string, Number(port)), 'ECONNREFUSED', `${name} not on ${String(outward)}`)
  }
})

t.test('on a DynamoDB holding more tables than one ListTables page, the stack\'s tables are found there, not made again', async (t) => {
  // Its own DynamoDB (dynalite), whatever TEST_DYNAMODB_ENDPOINT says: the first page must be filled by others.
  const first = await startEmbeddedStack()
  t.teardown(() => first.close())
  const endpoint = first.env.AWS_ENDPOINT_URL_DYNAMODB as string
  const client = new DynamoDBClient({ endpoint, region: first.env.AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
  t.teardown(() => { client.destroy() })
  // Named to sort before the stack's: they fill ListTables' first page (100 names).
  for (let index = 0; index < 100; index++) {
    await client.send(new CreateTableCommand({
      TableName: `aaa-other-${String(index).padStart(3, '0')}`,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
  }
  const { TableNames = [] } = await client.send(new ListTablesCommand({}))
  t.notOk(TableNames.includes(first.tables.users), 'the stack\'s tables are past the first page')
  // npm run dev again on docker-compose.yml's DynamoDB, its tables there from the last time.
  const again = await startEmbeddedStack({ dynamoEndpoint: endpoint })
  t.teardown(() => again.close())
  t.same(again.tables, first.tables)
})
