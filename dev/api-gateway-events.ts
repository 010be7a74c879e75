import { randomUUID } from 'node:crypto'
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda'
import type { Kind } from '../src/resolution/kinds.js'
import { ITEM_PARAMS } from '../src/schemas/params.js'

// Lambda proxy events as API Gateway sends them (the shapes AWS documents for
// REST APIs, payload 1.0, and HTTP APIs, payload 2.0), for one GET of a CONTRACT 2 path.

const API_ID = 'a1b2c3d4e5'
const HOST = `${API_ID}.execute-api.eu-west-2.amazonaws.com`
const STAGE = 'stg'

/**
 * The API Gateway resource for a concrete path: /users/alice/loans/1 -> /users/{userID}/loans/{loanID}.
 * A REST API hands the parameters over as sent (`%40` stays `%40`); an HTTP API, decoded.
 */
function resourceOf (path: string, decoded = true): { resource: string, pathParameters: Record<string, string> } {
  const [, , userID = '', kind, itemID] = path.split('/')
  const itemParam = kind === undefined ? undefined : ITEM_PARAMS[kind as Kind]?.name
  const decode = (segment: string) => { if (!decoded) return segment; try { return decodeURIComponent(segment) } catch { return segment } }
  const pathParameters: Record<string, string> = { userID: decode(userID) }
  let resource = '/users/{userID}'
  if (kind !== undefined) resource += `/${kind}`
  if (itemID !== undefined && itemParam !== undefined) {
    resource += `/{${itemParam}}`
    pathParameters[itemParam] = decode(itemID)
  }
  return { resource, pathParameters }
}

export function restApiEvent (path: string): APIGatewayProxyEvent {
  const { resource, pathParameters } = resourceOf(path, false)
  const requestId = randomUUID()
  const headers = {
    Accept: 'application/json',
    'CloudFront-Forwarded-Proto': 'https',
    Host: HOST,
    'User-Agent': 'library-app/2.3 (iOS)',
    'X-Amzn-Trace-Id': `Root=1-${Date.now().toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    'X-Forwarded-For': '198.51.100.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    'x-api-key': 'test-api-key-value'
  }
  return {
    resource,
    path,
    httpMethod: 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters,
    stageVariables: null,
    requestContext: {
      resourceId: 'abc123',
      resourcePath: resource,
      httpMethod: 'GET',
      extendedRequestId: 'Ab1CdEfGhIjKlMn=',
      requestTime: new Date().toUTCString(),
      path: `/${STAGE}${path}`,
      accountId: '123456789012',
      protocol: 'HTTP/1.1',
      stage: STAGE,
      domainPrefix: API_ID,
      requestTimeEpoch: Date.now(),
      requestId,
      identity: {
        cognitoIdentityPoolId: null,
        accountId: null,
        cognitoIdentityId: null,
        caller: null,
        sourceIp: '198.51.100.7',
        principalOrgId: null,
        accessKey: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
        userArn: null,
        userAgent: 'library-app/2.3 (iOS)',
        user: null,
        apiKey: 'test-api-key-value',
        apiKeyId: 'k1l2m3n4o5',
        clientCert: null
      },
      domainName: HOST,
      apiId: API_ID,
      authorizer: null
    },
    body: null,
    isBase64Encoded: false
  }
}

export function httpApiEvent (path: string): APIGatewayProxyEventV2 {
  const { resource, pathParameters } = resourceOf(path)
  const now = new Date()
  return {
    version: '2.0',
    routeKey: `GET ${resource}`,
    // HTTP APIs decode the path they hand over (REST APIs do not).
    rawPath: decodeURIComponent(path),
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      host: HOST,
      'user-agent': 'library-app/2.3 (Android)',
      'x-amzn-trace-id': `Root=1-${now.getTime().toString(16)}-abcdef012345678912345678`,
      'x-forwarded-for': '198.51.100.8',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https'
    },
    requestContext: {
      accountId: '123456789012',
      apiId: API_ID,
      domainName: HOST,
      domainPrefix: API_ID,
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.8', userAgent: 'library-app/2.3 (Android)' },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: `GET ${resource}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime()
    },
    pathParameters,
    isBase64Encoded: false
  }
}

export function lambdaContext (functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-2:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => 25_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined
  }
}
