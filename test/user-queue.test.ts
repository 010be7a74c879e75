import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startFauxqs } from 'fauxqs'
import t, { type Test } from 'tap'
import { queueRegion, SqsUserQueue } from '../src/clients/user-queue.js'
import { closesWithin } from './support/sockets.js'

// CONTRACT 5: with AWS_ENDPOINT_URL_SQS set, messages go to that endpoint
// whatever host USER_QUEUE_URL names (emulators name queues with hosts that
// need not resolve). The endpoint here is a recorder speaking SQS's JSON protocol.

const received: Array<{ QueueUrl?: string, MessageBody?: string }> = []
const signatures: string[] = []
/** how many of the next messages the recorder takes but answers with a 500 */
let takenThenFailed = 0
const recorder = createServer((request, response) => {
  signatures.push(String(request.headers.authorization))
  let body = ''
  request.on('data', (chunk: Buffer) => { body += chunk.toString() })
  request.on('end', () => {
    const message = JSON.parse(body) as { QueueUrl?: string, MessageBody?: string }
    received.push(message)
    response.setHeader('content-type', 'application/x-amz-json-1.0')
    if (takenThenFailed > 0) {
      takenThenFailed--
      response.statusCode = 500
      response.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'taken, then failed' }))
      return
    }
    // The SDK checks the body's MD5 in SendMessage's answer.
    const md5 = createHash('md5').update(message.MessageBody ?? '').digest('hex')
    response.end(JSON.stringify({ MessageId: `m-${received.length}`, MD5OfMessageBody: md5 }))
  })
})
let connections = 0
recorder.on('connection', () => { connections++ })
await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => recorder.close(resolve)))

const saved = { ...process.env }
Object.assign(process.env, {
  AWS_REGION: 'eu-west-2',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`
})
t.teardown(() => { process.env = saved })

const QUEUE_URL = 'http://queue-host.invalid:9/000000000000/users'

/** A queue client sending to the override endpoint (the recording server), destroyed with the test. */
function overriddenQueue (t: Test, queueUrl: string): SqsUserQueue {
  const queue = new SqsUserQueue({ queueUrl, endpointOverride: true })
  t.teardown(() => { queue.destroy() })
  return queue
}

t.test('with an endpoint override, the message goes there, whatever host the queue URL names', async (t) => {
  const queue = overriddenQueue(t, QUEUE_URL)
  await queue.send('Queue-Override-User')
  t.same(received, [{ QueueUrl: QUEUE_URL, MessageBody: 'Queue-Override-User' }])
  const before = connections
  for (const user of ['Queue-User-2', 'Queue-User-3']) await queue.send(user)
  t.equal(connections, before, 'one client, its connection kept alive from send to send')
})

t.test('without an override, the queue URL\'s host is the endpoint', async (t) => {
  received.length = 0
  const queue = new SqsUserQueue({ queueUrl: QUEUE_URL, endpointOverride: false })
  t.teardown(() => { queue.destroy() })
  await t.rejects(queue.send('Queue-Host-User'), 'queue-host.invalid does not resolve')
  t.same(received, [], 'nothing reached the override')
})

t.test('a queue in another region than AWS_REGION is signed for its own region', async (t) => {
  received.length = 0
  signatures.length = 0
  const elsewhere = 'https://sqs.us-east-1.amazonaws.com/123456789012/alma-users'
  const queue = overriddenQueue(t, elsewhere)
  await queue.send('Queue-Region-User')
  t.same(received, [{ QueueUrl: elsewhere, MessageBody: 'Queue-Region-User' }])
  t.match(signatures[0], /Credential=test\/\d{8}\/us-east-1\/sqs\/aws4_request/, 'us-east-1, not eu-west-2')
})

t.test('queueRegion: the region an SQS queue URL names', async (t) => {
  t.equal(queueRegion('https://sqs.us-east-1.amazonaws.com/123456789012/q'), 'us-east-1')
  t.equal(queueRegion('https://SQS.EU-WEST-2.amazonaws.com/123456789012/q'), 'eu-west-2')
  t.equal(queueRegion('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q'), 'cn-north-1')
  t.equal(queueRegion('https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q'), 'us-gov-west-1')
  t.equal(queueRegion('https://sqs.ap-southeast-2.api.aws/123456789012/q'), 'ap-southeast-2')
  t.equal(queueRegion('https://eu-west-1.queue.amazonaws.com/123456789012/q'), 'eu-west-1', 'the older form')
  t.equal(queueRegion('https://queue.amazonaws.com/123456789012/q'), 'us-east-1', 'the oldest form')
  t.equal(queueRegion('https://vpce-0a1b2c3d4e5f-abcdefgh.sqs.eu-west-2.vpce.amazonaws.com/123456789012/q'), 'eu-west-2', 'a VPC endpoint')
  t.equal(queueRegion('http://sqs.eu-west-2.localhost.localstack.cloud:4566/000000000000/q'), undefined, "LocalStack's host")
  t.equal(queueRegion('http://sqs.eu-west-2.127.0.0.1:9324/000000000000/q'), undefined, "an emulator's host: AWS_REGION stands")
  t.equal(queueRegion('http://localhost:4566/000000000000/q'), undefined)
  t.equal(queueRegion('https://sqs.us-east-1.amazonaws.com.evil.example/q'), undefined)
  t.equal(queueRegion('alma-users'), undefined, 'no URL at all')
})

t.test('a FIFO users queue gets each user once, in a group of its own', async (t) => {
  const fauxqs = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, defaultRegion: 'eu-west-2' })
  t.teardown(() => fauxqs.stop())
  // No content-based deduplication: the queue refuses a message without a deduplication ID.
  const { queueUrl } = fauxqs.createQueue('alma-users.fifo', { region: 'eu-west-2', attributes: { FifoQueue: 'true' } })
  const override = process.env.AWS_ENDPOINT_URL_SQS
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.address
  t.teardown(() => { process.env.AWS_ENDPOINT_URL_SQS = override })
  const queue = new SqsUserQueue({ queueUrl, endpointOverride: true })
  t.teardown(() => { queue.destroy() })
  const longID = `Fifo.User+1@example.org${'x'.repeat(232)}`
  for (const userID of [longID, longID, 'Fifo-User-2', 'fifo-user-2']) await queue.send(userID)
  const ready = fauxqs.inspectQueue('alma-users.fifo')?.messages.ready ?? []
  t.same(ready.map((message) => message.body), [longID, 'Fifo-User-2', 'fifo-user-2'], 'bodies as written; the repeat within five minutes deduplicated, another spelling not')
})

t.test('to a FIFO queue: one group per user whatever its case, deduplicated by the ID as written, both hashed', async (t) => {
  received.length = 0
  const fifo = 'http://queue-host.invalid:9/000000000000/users.fifo'
  const queue = overriddenQueue(t, fifo)
  await queue.send('Fifo-User')
  await queue.send('fifo-user')
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
  t.same(received, [
    { QueueUrl: fifo, MessageBody: 'Fifo-User', MessageGroupId: sha256('fifo-user'), MessageDeduplicationId: sha256('Fifo-User') },
    { QueueUrl: fifo, MessageBody: 'fifo-user', MessageGroupId: sha256('fifo-user'), MessageDeduplicationId: sha256('fifo-user') }
  ])
})

t.test('a standard queue whose name holds "fifo" gets no FIFO fields: SQS refuses a deduplication ID on a standard queue', async (t) => {
  received.length = 0
  const standard = 'http://queue-host.invalid:9/000000000000/users-fifo'
  const queue = overriddenQueue(t, standard)
  await queue.send('Std-User')
  t.strictSame(received, [{ QueueUrl: standard, MessageBody: 'Std-User' }])
})

t.test('a send SQS answers with a 500 is not sent again: the message may have been taken (CONTRACT 3.5: at most once)', async (t) => {
  received.length = 0
  takenThenFailed = 1
  t.teardown(() => { takenThenFailed = 0 })
  const queue = overriddenQueue(t, QUEUE_URL)
  await t.rejects(queue.send('Queue-Once-User'), { name: 'InternalError' })
  t.same(received, [{ QueueUrl: QUEUE_URL, MessageBody: 'Queue-Once-User' }], 'one message, whatever the answer')
})

t.test('destroy closes the client\'s kept-alive connection', async (t) => {
  const queue = new SqsUserQueue({ queueUrl: QUEUE_URL, endpointOverride: true })
  // The recorder would close an idle connection itself after its keep-alive timeout: not for this test.
  const keepAlive = recorder.keepAliveTimeout
  recorder.keepAliveTimeout = 120_000
  t.teardown(() => { recorder.keepAliveTimeout = keepAlive })
  const opened = new Promise<Socket>((resolve) => recorder.once('connection', resolve))
  await queue.send('Queue-Destroy-User')
  const socket = await opened
  const closed = closesWithin(socket, 10_000)
  queue.destroy()
  t.ok(await closed, 'the connection was closed')
})
