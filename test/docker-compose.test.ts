import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'

// No Docker engine runs where this suite runs: what can be checked is that the
// file parses, that it offers the two peers, and that the ports it publishes are
// the ones README.md tells people to point `npm run dev` at.

interface Service { image: string, ports?: string[], command?: string[] }
const compose = parse(await readFile('docker-compose.yml', 'utf8')) as { services: Record<string, Service> }
const readme = await readFile('README.md', 'utf8')

const published = (service: Service | undefined) =>
  (service?.ports ?? []).map((mapping) => mapping.split(':').slice(0, -1).join(':'))

t.test('DynamoDB Local and an SQS emulator, on loopback', async (t) => {
  const { dynamodb, sqs } = compose.services
  t.match(dynamodb?.image, /^amazon\/dynamodb-local:\d/, 'AWS\'s own DynamoDB Local, pinned')
  t.match(sqs?.image, /^softwaremill\/elasticmq-native:\d/, 'ElasticMQ, pinned')
  t.same(dynamodb?.ports, ['127.0.0.1:8000:8000'], "DynamoDB Local's own port, on loopback")
  t.same(sqs?.ports, ['127.0.0.1:9324:9324'], "ElasticMQ's own port, on loopback")
  t.ok(dynamodb?.command?.includes('-inMemory'), 'data in memory only, as the file says')
  // ElasticMQ speaks the JSON protocol of SDK v3 from 1.4 on.
  const [major = 0, minor = 0] = (sqs?.image.split(':')[1] ?? '').split('.').map(Number)
  t.ok(major > 1 || (major === 1 && minor >= 4), `ElasticMQ ${String(sqs?.image)} is 1.4 or later`)
})

t.test('README points npm run dev at those ports', async (t) => {
  const [dynamoPort, sqsPort] = [compose.services.dynamodb, compose.services.sqs].map((service) => published(service)[0])
  t.match(readme, 'docker compose up -d')
  t.match(readme, `AWS_ENDPOINT_URL_DYNAMODB=http://${dynamoPort} AWS_ENDPOINT_URL_SQS=http://${sqsPort} npm run dev`)
})
