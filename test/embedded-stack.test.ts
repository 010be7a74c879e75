import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import t from 'tap'
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
