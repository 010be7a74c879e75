import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { STATUS_CODES } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import JSZip from 'jszip'
import t from 'tap'
import { CHINA, PROD, STG } from './support/deploy-env.js'

// `serverless package`, offline and without AWS credentials, then the generated
// CloudFormation read back: the functions, their endpoints and environment, the
// role's permissions, and nothing else created.

const FUNCTIONS: Record<string, [string, string]> = {
  'get-user': ['getUser', '/users/{userID}'],
  'get-user-loans': ['getUserLoans', '/users/{userID}/loans'],
  'get-user-loan': ['getUserLoan', '/users/{userID}/loans/{loanID}'],
  'get-user-requests': ['getUserRequests', '/users/{userID}/requests'],
  'get-user-request': ['getUserRequest', '/users/{userID}/requests/{requestID}'],
  'get-user-fees': ['getUserFees', '/users/{userID}/fees'],
  'get-user-fee': ['getUserFee', '/users/{userID}/fees/{feeID}']
}

// What a deploy may create: the functions, their API Gateway endpoints (with the API's own answers), their log groups, the role.
const ALLOWED_TYPES = new Set([
  'AWS::Lambda::Function', 'AWS::Lambda::Permission', 'AWS::Logs::LogGroup', 'AWS::IAM::Role',
  'AWS::ApiGateway::RestApi', 'AWS::ApiGateway::Resource', 'AWS::ApiGateway::Method', 'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::GatewayResponse'
])
// ...and, unless DEPLOYMENT_BUCKET names an existing one, the framework's own bucket for the artifact.
const FRAMEWORK_BUCKET = new Set(['AWS::S3::Bucket', 'AWS::S3::BucketPolicy'])

// The response types of API Gateway's own answers, as AWS documents them.
const GATEWAY_RESPONSE_TYPES = [
  'ACCESS_DENIED', 'API_CONFIGURATION_ERROR', 'AUTHORIZER_CONFIGURATION_ERROR', 'AUTHORIZER_FAILURE', 'BAD_REQUEST_BODY',
  'BAD_REQUEST_PARAMETERS', 'DEFAULT_4XX', 'DEFAULT_5XX', 'EXPIRED_TOKEN', 'INTEGRATION_FAILURE', 'INTEGRATION_TIMEOUT',
  'INVALID_API_KEY', 'INVALID_SIGNATURE', 'MISSING_AUTHENTICATION_TOKEN', 'QUOTA_EXCEEDED', 'REQUEST_TOO_LARGE',
  'RESOURCE_NOT_FOUND', 'THROTTLED', 'UNAUTHORIZED', 'UNSUPPORTED_MEDIA_TYPE', 'WAF_FILTERED'
]

interface Resource { Type: string, Properties: Record<string, any> }
interface Template { Resources: Record<string, Resource> }

async function slsPackage (args: string[], env: Record<string, string>): Promise<{ code: number, output: string, dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sls-package-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['node_modules/serverless/bin/serverless.js', 'package', ...args, '--package', dir], {
    // No AWS credentials and nothing of this process's environment but PATH and HOME.
    // Not measured for coverage: the deploy settings load src/config.ts through tsx's
    // own require hook, whose coverage tap cannot map onto the source (config.test.ts covers it).
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env }
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  return { code, output, dir }
}

const readTemplate = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template

/** "/users/{userID}/loans" for a method, by walking its resource's parents up to the API's root. */
function pathOf (template: Template, resourceRef: unknown): string {
  const ref = (resourceRef as { Ref?: string }).Ref
  if (ref === undefined) return ''
  const resource = template.Resources[ref] as Resource
  return `${pathOf(template, resource.Properties.ParentId)}/${String(resource.Properties.PathPart)}`
}

const tableArn = (name: string) => ({
  'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, 'dynamodb', { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, `table/${name}`]]
})

t.test('stg: seven functions, their endpoints, least privilege, nothing else', async (t) => {
  const { code, output, dir } = await slsPackage(['--stage', 'stg', '--region', 'eu-west-2'], STG)
  t.equal(code, 0, 'packaged', { output })
  const template = await readTemplate(dir)
  const resources = Object.values(template.Resources)

  const types = new Set(resources.map((resource) => resource.Type))
  t.same([...types].filter((type) => !ALLOWED_TYPES.has(type) && !FRAMEWORK_BUCKET.has(type)), [], 'no other resource types')
  t.notOk(resources.some((resource) => /DynamoDB|SQS|SSM|KMS/.test(resource.Type)), 'no tables, queues, parameters or keys')

  const functions = resources.filter((resource) => resource.Type === 'AWS::Lambda::Function')
  t.equal(functions.length, 7)
  for (const [name, [handler]] of Object.entries(FUNCTIONS)) {
    const fn = functions.find((candidate) => candidate.Properties.FunctionName === `alma-cache-api-stg-${name}`)
    t.ok(fn, name)
    t.equal(fn?.Properties.Handler, `dist/lambda.${handler}`, `${name} handler`)
    t.equal(fn?.Properties.Runtime, 'nodejs22.x', `${name} runtime`)
    t.equal(fn?.Properties.MemorySize, 1769, `${name} has a whole vCPU for its cold start`)
    t.same(fn?.Properties.Architectures, ['arm64'], `${name} on arm64, as the README says`)
    t.equal(fn?.Properties.Timeout, 25, `${name} times out at 25 s, before API Gateway does (29 s) and 5 s past the longest request budget`)
    t.same(fn?.Properties.Environment.Variables, {
      USER_CACHE_TABLE_NAME: 'alma-users-stg',
      LOAN_CACHE_TABLE_NAME: 'alma-loans-stg',
      REQUEST_CACHE_TABLE_NAME: 'alma-requests-stg',
      FEE_CACHE_TABLE_NAME: 'alma-fees-stg',
      USER_QUEUE_URL: STG.USER_QUEUE_URL_STG,
      ALMA_API_KEY_NAME: '/alma/api-key',
      METRICS_NAMESPACE: 'AlmaCacheApi/stg'
    }, `${name} environment`)
  }

  const methods = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
  const endpoints = methods.map((method) => ({
    route: `${String(method.Properties.HttpMethod)} ${pathOf(template, method.Properties.ResourceId)}`,
    apiKeyRequired: method.Properties.ApiKeyRequired,
    integration: method.Properties.Integration.Type,
    target: JSON.stringify(method.Properties.Integration.Uri)
  }))
  t.same(endpoints.map((endpoint) => endpoint.route).sort(), Object.values(FUNCTIONS).map(([, path]) => `GET ${path}`).sort(), 'the CONTRACT 2 paths, GET only')
  t.ok(endpoints.every((endpoint) => endpoint.apiKeyRequired === true), 'API key required by default')
  t.ok(endpoints.every((endpoint) => endpoint.integration === 'AWS_PROXY'), 'Lambda proxy integration')
  for (const [name, [, path]] of Object.entries(FUNCTIONS)) {
    const logicalID = Object.entries(template.Resources)
      .find(([, resource]) => resource.Properties?.FunctionName === `alma-cache-api-stg-${name}`)?.[0] as string
    t.match(endpoints.find((endpoint) => endpoint.route === `GET ${path}`)?.target, logicalID, `GET ${path} invokes ${name}`)
  }
  // Each function may be invoked by API Gateway from its own route only, of any stage.
  const permissions = resources.filter((resource) => resource.Type === 'AWS::Lambda::Permission')
  t.equal(permissions.length, 7)
  for (const [name, [, path]] of Object.entries(FUNCTIONS)) {
    const logicalID = Object.entries(template.Resources)
      .find(([, resource]) => resource.Properties?.FunctionName === `alma-cache-api-stg-${name}`)?.[0] as string
    const permission = permissions.find((resource) => resource.Properties.FunctionName['Fn::GetAtt']?.[0] === logicalID)
    t.match(permission?.Properties, { Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' }, name)
    t.same(permission?.Properties.SourceArn['Fn::Join'][1].slice(-2), [{ Ref: 'ApiGatewayRestApi' }, `/*/GET${path.replace(/\{[^}]+\}/g, '*')}`], `${name}: from GET ${path} only`)
  }

  // API Gateway's own answers, held to CONTRACT 2.3, and in the deployment that the stage serves.
  const gatewayResponses = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::ApiGateway::GatewayResponse')
  const byType: Record<string, any> = Object.fromEntries(gatewayResponses.map(([, resource]) => [resource.Properties.ResponseType, resource.Properties]))
  t.same(Object.keys(byType).sort(), GATEWAY_RESPONSE_TYPES, 'every type API Gateway defines')
  // The body API Gateway would send, its one variable filled in as it fills it (a JSON string).
  const bodyOf = (type: string) => JSON.parse(byType[type].ResponseTemplates['application/json'].replaceAll('$context.error.messageString', '"Forbidden"'))
  for (const type of GATEWAY_RESPONSE_TYPES) {
    const statusCode = Number(byType[type].StatusCode)
    t.same(Object.keys(bodyOf(type)), ['statusCode', 'error', 'message'], `${type}: the contract's error shape`)
    t.match(bodyOf(type), { statusCode, error: STATUS_CODES[statusCode], message: String }, `${type}: with its status`)
    t.equal(bodyOf(type).statusCode, statusCode, `${type}: its statusCode a number (t.match would take "${statusCode}")`)
  }
  t.same(Object.fromEntries(Object.entries(byType).map(([type, response]) => [type, response.StatusCode])), {
    ACCESS_DENIED: '403',
    API_CONFIGURATION_ERROR: '500',
    AUTHORIZER_CONFIGURATION_ERROR: '500',
    AUTHORIZER_FAILURE: '500',
    BAD_REQUEST_BODY: '400',
    BAD_REQUEST_PARAMETERS: '400',
    DEFAULT_4XX: '400',
    DEFAULT_5XX: '500',
    EXPIRED_TOKEN: '403',
    INTEGRATION_FAILURE: '503',
    INTEGRATION_TIMEOUT: '504',
    INVALID_API_KEY: '403',
    INVALID_SIGNATURE: '403',
    MISSING_AUTHENTICATION_TOKEN: '404',
    QUOTA_EXCEEDED: '429',
    REQUEST_TOO_LARGE: '413',
    RESOURCE_NOT_FOUND: '404',
    THROTTLED: '429',
    UNAUTHORIZED: '401',
    UNSUPPORTED_MEDIA_TYPE: '415',
    WAF_FILTERED: '403'
  }, "every type's status")
  t.match(byType, {
    MISSING_AUTHENTICATION_TOKEN: { StatusCode: '404' },
    INVALID_API_KEY: { StatusCode: '403' },
    THROTTLED: { StatusCode: '429', ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" } },
    INTEGRATION_TIMEOUT: { StatusCode: '504' },
    INTEGRATION_FAILURE: { StatusCode: '503', ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" } },
    DEFAULT_5XX: { StatusCode: '500' }
  }, 'an unknown route is a 404, not a 403; a refused invocation a 503, a failed function a 500')
  t.equal(bodyOf('MISSING_AUTHENTICATION_TOKEN').message, 'No route for this method and path')
  t.ok(Object.values(byType).every((response) => response.ResponseParameters['gatewayresponse.header.Cache-Control'] === "'no-store'"), 'none cacheable')
  t.ok(Object.values(byType).every((response) => response.ResponseParameters['gatewayresponse.header.X-Content-Type-Options'] === "'nosniff'"), 'none sniffed')
  t.ok(Object.values(byType).every((response) => !('gatewayresponse.header.Access-Control-Allow-Origin' in response.ResponseParameters)), 'no CORS header without CORS_ORIGINS')
  const [deployment] = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::Deployment') as Array<Resource & { DependsOn: string[] }>
  t.ok(gatewayResponses.every(([id]) => deployment?.DependsOn.includes(id)), 'the deployment waits for them')
  // A gateway response names its API by the RestApi's logical ID: a Ref to anything else fails the deploy.
  const restApiIds = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::ApiGateway::RestApi').map(([id]) => id)
  t.equal(restApiIds.length, 1, 'one API')
  t.ok(gatewayResponses.every(([, resource]) => resource.Properties.RestApiId?.Ref === restApiIds[0]), "each gateway response is the API's own")
  // CloudFormation refuses a template with a logical ID of anything but letters and digits (GatewayResponseACCESS_DENIED).
  t.same(Object.keys(template.Resources).filter((id) => !/^[A-Za-z0-9]+$/.test(id)), [], 'every logical ID alphanumeric')
  const methodIds = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::ApiGateway::Method').map(([id]) => id)
  t.ok(methodIds.length >= 7 && methodIds.every((id) => deployment?.DependsOn.includes(id)), 'and for the methods, as the framework has it')
  const logGroups = resources.filter((resource) => resource.Type === 'AWS::Logs::LogGroup')
  t.ok(logGroups.length === 7 && logGroups.every((group) => group.Properties.RetentionInDays === 30), "the functions' logs kept 30 days, not forever")
  // Lambda writes to /aws/lambda/<function name>: a group of another name would be kept 30 days and
  // written by nothing, while the functions' own was created on first write, kept forever.
  for (const [id, fn] of Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')) {
    const [groupId] = [(fn as Resource & { DependsOn?: string[] }).DependsOn ?? []].flat()
    t.equal(template.Resources[groupId as string]?.Properties.LogGroupName, `/aws/lambda/${String(fn.Properties.FunctionName)}`, `${id} waits for its own log group`)
  }

  const roles = resources.filter((resource) => resource.Type === 'AWS::IAM::Role')
  t.equal(roles.length, 1, 'one role')
  const [restApi] = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::RestApi')
  t.same(restApi?.Properties.EndpointConfiguration, { Types: ['EDGE'] }, 'the endpoint type the settings give')
  const role = roles[0] as Resource
  t.notOk(role.Properties.ManagedPolicyArns, 'no managed policies')
  const statements = role.Properties.Policies.flatMap((policy: any) => policy.PolicyDocument.Statement) as Array<{ Effect: string, Action: string[], Resource: unknown }>
  const asList = (value: unknown) => (Array.isArray(value) ? value : [value])
  const logs = statements.filter((statement) => statement.Action.every((action) => action.startsWith('logs:')))
  t.ok(logs.every((statement) => asList(statement.Resource).every((resource) => JSON.stringify(resource).includes('log-group:/aws/lambda/alma-cache-api-stg'))),
    'log permissions on its own log groups only')
  t.same(statements.filter((statement) => !logs.includes(statement)).map((statement) => ({ ...statement, Resource: asList(statement.Resource) })), [
    {
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
      Resource: ['alma-users-stg', 'alma-loans-stg', 'alma-requests-stg', 'alma-fees-stg'].map(tableArn)
    },
    { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [STG.USER_QUEUE_ARN_STG] },
    {
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: [{ 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, 'ssm', { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, 'parameter/alma/api-key']] }]
    }
  ], 'read the four tables, send to the queue, read the key: nothing more')
  t.notMatch(JSON.stringify(statements.filter((statement) => !logs.includes(statement))), /\*/, 'no wildcard action or resource')

  const artifact = await JSZip.loadAsync(await readFile(join(dir, 'alma-cache-api.zip')))
  t.same(Object.keys(artifact.files), ['dist/lambda.js'], 'the bundle and nothing else')
})

t.test('prod, with an existing deployment bucket, no API key, CORS for one origin', async (t) => {
  const { code, output, dir } = await slsPackage(['--stage', 'prod', '--region', 'eu-west-1'], {
    ...PROD,
    DEPLOYMENT_BUCKET: 'library-deployments',
    API_KEY_REQUIRED: 'false',
    CORS_ORIGINS: 'https://app.example.ac.uk',
    ALMA_API_URL: 'https://api-na.hosted.exlibrisgroup.com',
    LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001',
    ALMA_API_KEY_KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
  })
  t.equal(code, 0, 'packaged', { output })
  const template = await readTemplate(dir)
  const resources = Object.values(template.Resources)
  const role = resources.find((resource) => resource.Type === 'AWS::IAM::Role') as Resource
  const statements = role.Properties.Policies.flatMap((policy: any) => policy.PolicyDocument.Statement) as Array<{ Action: string[], Resource: unknown }>
  const kms = statements.filter((statement) => statement.Action.some((action) => action.startsWith('kms:')))
  t.same(kms.map((statement) => ({ ...statement, Resource: [statement.Resource].flat() })), [{
    Effect: 'Allow',
    Action: ['kms:Decrypt'],
    Resource: ['arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
    Condition: { StringEquals: { 'kms:ViaService': ['ssm.eu-west-1.amazonaws.com'] } }
  }], "the key parameter's KMS key, through SSM only")
  t.same([...new Set(resources.map((resource) => resource.Type))].filter((type) => !ALLOWED_TYPES.has(type)), [], 'not even a bucket')
  const fn = resources.find((resource) => resource.Properties.FunctionName === 'alma-cache-api-prod-get-user-fees')
  t.match(fn?.Properties.Environment.Variables, {
    FEE_CACHE_TABLE_NAME: 'alma-fees-prod',
    USER_QUEUE_URL: PROD.USER_QUEUE_URL_PROD,
    ALMA_API_URL: 'https://api-na.hosted.exlibrisgroup.com',
    CORS_ORIGINS: 'https://app.example.ac.uk',
    LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001',
    METRICS_NAMESPACE: 'AlmaCacheApi/prod'
  })
  const methods = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
  t.ok(methods.filter((method) => method.Properties.HttpMethod === 'GET').every((method) => method.Properties.ApiKeyRequired === false), 'API key switched off')
  const preflight = methods.filter((method) => method.Properties.HttpMethod === 'OPTIONS')
  t.equal(preflight.length, 7, 'API Gateway answers the CORS preflight of each path')
  t.match(JSON.stringify(preflight[0]?.Properties.Integration), /https:\/\/app\.example\.ac\.uk/)
  t.ok(preflight.every((method) => method.Properties.MethodResponses[0].ResponseParameters['method.response.header.Cache-Control'] === true &&
    method.Properties.Integration.IntegrationResponses[0].ResponseParameters['method.response.header.Cache-Control'] === "'no-store'"), 'preflight answers carry Cache-Control: no-store, as every other')
  const gatewayResponses = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::GatewayResponse')
  t.ok(gatewayResponses.length === GATEWAY_RESPONSE_TYPES.length && gatewayResponses.every((response) => response.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'] === "'https://app.example.ac.uk'" &&
    response.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Expose-Headers'] === "'X-Cache, Retry-After'"),
  "API Gateway's own answers readable by the app's origin, their Retry-After included")
})

t.test('any other stage is refused, naming the valid ones', async (t) => {
  const { code, output } = await slsPackage(['--stage', 'dev', '--region', 'eu-west-2'], STG)
  t.not(code, 0)
  t.match(output, /the stage must be one of stg, prod .*got "dev"/)
})

t.test('settings the service would refuse, and a queue URL and ARN swapped, fail the deploy, with the service\'s own words', async (t) => {
  const swapped = { USER_QUEUE_URL_STG: STG.USER_QUEUE_ARN_STG, USER_QUEUE_ARN_STG: STG.USER_QUEUE_URL_STG }
  const { code, output } = await slsPackage(['--stage', 'stg', '--region', 'eu-west-2'], { ...STG, ...swapped, LOG_LEVEL: 'loud', ALMA_CALL_TIMEOUT_MS: '8s' })
  t.not(code, 0)
  t.match(output, /Cannot deploy: USER_QUEUE_ARN_STG is not a queue ARN of the aws partition \(arn:aws:sqs:<region>:<account>:<queue>\); USER_QUEUE_URL_STG is not an SQS queue URL of the aws partition \(https:\/\/sqs\.<region>\.amazonaws\.com\/<account>\/<queue>\); invalid LOG_LEVEL \(one of [^)]+\), ALMA_CALL_TIMEOUT_MS \(whole milliseconds, 1 to 9999999\)\./)
})

t.test('missing deploy-time variables are named, all at once', async (t) => {
  const { USER_QUEUE_ARN_STG: _arn, FEE_CACHE_TABLE_NAME_STG: _fees, ALMA_API_KEY_NAME: _key, ...partial } = STG
  const { code, output } = await slsPackage(['--stage', 'stg', '--region', 'eu-west-2'], partial)
  t.not(code, 0)
  t.match(output, /Cannot deploy: missing USER_QUEUE_ARN_STG, FEE_CACHE_TABLE_NAME_STG, ALMA_API_KEY_NAME\./)
  t.notMatch(output, /at .*stage-settings\.cjs:\d+/, 'a message, not a stack trace')
})

t.test('in China, a regional API: the partition has no edge-optimized ones', async (t) => {
  const { code, output, dir } = await slsPackage(['--stage', 'stg', '--region', 'cn-north-1'], CHINA)
  t.equal(code, 0, 'packaged for cn-north-1', { output })
  const restApi = Object.values((await readTemplate(dir)).Resources).find((resource) => resource.Type === 'AWS::ApiGateway::RestApi')
  t.same(restApi?.Properties.EndpointConfiguration, { Types: ['REGIONAL'] }, 'a regional API in the template')
})
