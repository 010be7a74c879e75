// The floor under any design: the same single-loan read as one signed
// BatchGetItem over node:http (SigV4 from @smithy/signature-v4, the SDK's own
// signer), with no SDK client and no HTTP framework. Not a way to build the
// service: the measure of what node itself and one DynamoDB round trip cost.
import { request } from 'node:http'
import { SignatureV4 } from '@smithy/signature-v4'
import type { APIGatewayProxyEvent } from 'aws-lambda'
import { env, environmentCredentials, Sha256 } from './signing.js'

export async function getUserLoan (event: APIGatewayProxyEvent) {
  const { userID, loanID } = event.pathParameters as { userID: string, loanID: string }
  const endpoint = new URL(env('AWS_ENDPOINT_URL_DYNAMODB'))
  const loans = env('LOAN_CACHE_TABLE_NAME')
  const body = JSON.stringify({
    RequestItems: {
      [env('USER_CACHE_TABLE_NAME')]: { Keys: [{ primary_id: { S: userID } }] },
      [loans]: { Keys: [{ loan_id: { S: loanID } }] }
    }
  })
  const signer = new SignatureV4({ credentials: environmentCredentials(), region: env('AWS_REGION'), service: 'dynamodb', sha256: Sha256 })
  const { headers } = await signer.sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: Number(endpoint.port),
    path: '/',
    query: {},
    headers: { host: endpoint.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.BatchGetItem' },
    body
  })
  const answer = await new Promise<string>((resolve, reject) => {
    const call = request({ method: 'POST', hostname: endpoint.hostname, port: endpoint.port, path: '/', headers }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => { resolve(text) })
    })
    call.on('error', reject)
    call.end(body)
  })
  const loan: unknown = JSON.parse(answer).Responses?.[loans]?.[0]
  return { statusCode: 200, headers: { 'x-cache': 'hit' }, body: JSON.stringify(loan) }
}
