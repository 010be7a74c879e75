// AWS's JSON-protocol calls (DynamoDB, SQS, SSM) without the SDK's clients:
// signed with @smithy/signature-v4 (the SDK's own signer) and sent over an
// undici Pool with the timeouts of src/clients/aws-requests.ts. Not a client in
// use: the baselines measure with it what a cold start would cost with no SDK
// client in the bundle (README, "Cold start"). No retries, no error types.
import { SignatureV4 } from '@smithy/signature-v4'
import { openPool, type Connections } from '../../src/clients/undici-pool.js'
import { fastPeerBounds } from '../../src/clients/aws-requests.js'
import { env, environmentCredentials, Sha256 } from './signing.js'

export interface AwsJsonService {
  /** signing name: dynamodb, sqs, ssm */
  service: string
  /** X-Amz-Target prefix: DynamoDB_20120810, AmazonSQS, AmazonSSM */
  target: string
  /** application/x-amz-json-<version> */
  version: '1.0' | '1.1'
  /** AWS_ENDPOINT_URL_<SERVICE>, or the regional endpoint */
  endpoint: string
}

/** One service's calls: `call('BatchGetItem', input)` answers the decoded JSON body. */
export function awsJsonClient ({ service, target, version, endpoint }: AwsJsonService) {
  const url = new URL(endpoint)
  const signer = new SignatureV4({ credentials: environmentCredentials(), region: env('AWS_REGION'), service, sha256: Sha256 })
  const bounds = fastPeerBounds({})
  let pool: Connections | undefined
  return async (operation: string, input: unknown): Promise<Record<string, unknown>> => {
    const body = JSON.stringify(input)
    const { headers } = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      path: '/',
      headers: { host: url.host, 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': `${target}.${operation}` },
      body
    })
    pool ??= openPool(url.origin, { connectTimeout: bounds.connectionTimeout, headersTimeout: bounds.requestTimeout, bodyTimeout: bounds.requestTimeout })
    const { statusCode, body: answer } = await pool.request({ method: 'POST', path: '/', headers, body })
    const decoded = await answer.json() as Record<string, unknown>
    if (statusCode !== 200) throw new Error(`${service} ${operation}: ${statusCode} ${String(decoded.__type)}`)
    return decoded
  }
}
