import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { STATUS_CODES } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import JSZip from 'jszip'
import t from 'tap'

// `serverless package`, offline and without AWS credentials, then the generated
// CloudFormation read back: the functions, their endpoints and environment, the
// role's permissions, and nothing else created.

const STG = {
  USER_QUEUE_URL_STG: 'https://sqs.eu-west-2.amazonaws.com/123456789012/alma-users-stg',
  USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:123456789012:alma-users-stg',
  USER_CACHE_TABLE_NAME_STG: 'alma-users-stg',
  LOAN_CACHE_TABLE_NAME_STG: 'alma-loans-stg',
  REQUEST_CACHE_TABLE_NAME_STG: 'alma-requests-stg',
  FEE_CACHE_TABLE_NAME_STG: 'alma-fees-stg',
  ALMA_API_KEY_NAME: '/alma/api-key'
}
const PROD = Object.fromEntries(Object.entries(STG).map(([name, value]) => [name.replace(/_STG$/, '_PROD'), value.replace(/-stg$/, '-prod')]))

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
  }
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
  t.ok(Object.values(byType).every((response) => !('gatewayresponse.header.Access-Control-Allow-Origin' in response.ResponseParameters)), 'no CORS header without CORS_ORIGINS')
  const [deployment] = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::Deployment') as Array<Resource & { DependsOn: string[] }>
  t.ok(gatewayResponses.every(([id]) => deployment?.DependsOn.includes(id)), 'the deployment waits for them')

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
    LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001'
  })
  t.equal(code, 0, 'packaged', { output })
  const template = await readTemplate(dir)
  const resources = Object.values(template.Resources)
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
  const gatewayResponses = resources.filter((resource) => resource.Type === 'AWS::ApiGateway::GatewayResponse')
  t.ok(gatewayResponses.length === GATEWAY_RESPONSE_TYPES.length && gatewayResponses.every((response) => response.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'] === "'https://app.example.ac.uk'"),
    "API Gateway's own answers readable by the app's origin")
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
  t.match(output, /Cannot deploy: USER_QUEUE_ARN_STG is not a queue ARN \(arn:aws:sqs:<region>:<account>:<queue>\); invalid USER_QUEUE_URL \(the queue's URL, not its name or ARN\), LOG_LEVEL \(one of [^)]+\), ALMA_CALL_TIMEOUT_MS \(whole milliseconds, 1 to 9999999\)\./)
})

t.test('missing deploy-time variables are named, all at once', async (t) => {
  const { USER_QUEUE_ARN_STG: _arn, FEE_CACHE_TABLE_NAME_STG: _fees, ...partial } = STG
  const { code, output } = await slsPackage(['--stage', 'stg', '--region', 'eu-west-2'], partial)
  t.not(code, 0)
  t.match(output, /Cannot deploy: missing USER_QUEUE_ARN_STG, FEE_CACHE_TABLE_NAME_STG\./)
  t.notMatch(output, /at .*stage-settings\.cjs:\d+/, 'a message, not a stack trace')
})

// The deploy settings alone, as serverless resolves them, for the checks that need no package
// (in a process of their own, unmeasured, as in slsPackage).
interface StageSettings { functionTimeout: number, endpointType: string, gatewayResponses: Record<string, { Properties: { ResponseParameters: Record<string, string> } }>, statements: unknown[], environment: Record<string, string>, cors: false | { headers: string[] }, warnings: string }
async function settingsWith (env: Record<string, string>, options: { stage: string, region?: string } = { stage: 'stg', region: 'eu-west-2' }): Promise<StageSettings> {
  const resolve = `require('./deploy/stage-settings.cjs')({ options: ${JSON.stringify(options)} })` +
    '.then((settings) => console.log(JSON.stringify(settings)), (error) => { console.error(error.message); process.exitCode = 1 })'
  const child = spawn(process.execPath, ['-e', resolve], { env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env } })
  let output = ''
  let errors = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  if (code !== 0) throw new Error(errors.trim())
  return { ...JSON.parse(output) as StageSettings, warnings: errors }
}

t.test("the optional settings reach the functions' environment; browser apps may send the API key", async (t) => {
  const settings = await settingsWith({ ...STG, REQUEST_BUDGET_MS: '15000', ALMA_CALL_TIMEOUT_MS: '5000', LOG_LEVEL: 'warn', CORS_ORIGINS: 'https://app.example.ac.uk' })
  t.match(settings.environment, { REQUEST_BUDGET_MS: '15000', ALMA_CALL_TIMEOUT_MS: '5000', LOG_LEVEL: 'warn' })
  t.same(settings.cors === false ? [] : settings.cors.headers, ['Content-Type', 'X-Api-Key', 'Authorization'], 'the headers a preflight allows, X-Api-Key among them (the key is required by default)')
})

t.test('prod without LOG_PSEUDONYM_KEY is deployed, with a warning', async (t) => {
  t.match((await settingsWith(PROD, { stage: 'prod', region: 'eu-west-1' })).warnings, /^Warning: LOG_PSEUDONYM_KEY is not set: the user pseudonyms in the logs can be reversed/)
  t.equal((await settingsWith({ ...PROD, LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001' }, { stage: 'prod', region: 'eu-west-1' })).warnings, '', 'none with the key')
  t.equal((await settingsWith(STG)).warnings, '', 'none for stg')
})

t.test('the key parameter named by its ARN is allowed by that ARN', async (t) => {
  const parameterArn = 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key'
  const settings = await settingsWith({ ...STG, ALMA_API_KEY_NAME: parameterArn })
  t.same(settings.statements[2], { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [parameterArn] })
  t.equal(settings.functionTimeout, 25)
  t.equal((await settingsWith({ ...STG, REQUEST_BUDGET_MS: '20000' })).functionTimeout, 25, 'the default budget fits')
})

t.test('a budget the functions cannot keep, and a queue URL and ARN of different queues, fail the deploy', async (t) => {
  await t.rejects(settingsWith({ ...STG, REQUEST_BUDGET_MS: '20001', USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:123456789012:other-queue' }), {
    message: 'Cannot deploy: USER_QUEUE_URL_STG and USER_QUEUE_ARN_STG name different queues (eu-west-2:123456789012:alma-users-stg and eu-west-2:123456789012:other-queue); ' +
      'REQUEST_BUDGET_MS must be at most 20000 (the functions time out at 25 s, and a request needs up to 5 s past its budget).'
  })
  await t.rejects(settingsWith({ ...STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:210987654321:alma-users-stg' }), /name different queues \(eu-west-2:123456789012:alma-users-stg and eu-west-2:210987654321:alma-users-stg\)/, 'another account')
  await t.rejects(settingsWith({ ...STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:us-east-1:123456789012:alma-users-stg' }), /name different queues \(eu-west-2:123456789012:alma-users-stg and us-east-1:123456789012:alma-users-stg\)/, 'another region')
  const elsewhere = { USER_QUEUE_URL_STG: 'https://sqs.us-east-1.amazonaws.com/123456789012/alma-users-stg', USER_QUEUE_ARN_STG: 'arn:aws:sqs:us-east-1:123456789012:alma-users-stg' }
  t.equal((await settingsWith({ ...STG, ...elsewhere })).functionTimeout, 25, 'a queue in another region, named alike by both')
  for (const name of ['arn:aws:ssm:us-east-1:123456789012:parameter/alma/api-key', 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:alma', 'arn:aws:ssm:eu-west-2:123456789012:parameter//alma']) {
    await t.rejects(settingsWith({ ...STG, ALMA_API_KEY_NAME: name }), { message: 'Cannot deploy: ALMA_API_KEY_NAME is not the ARN of an SSM parameter in eu-west-2 (arn:aws:ssm:eu-west-2:<account>:parameter/<name>).' }, name)
  }
  t.equal((await settingsWith({ ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:210987654321:parameter/shared/alma' })).functionTimeout, 25, "another account's shared parameter")
  await t.rejects(settingsWith({ ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma' }, { stage: 'stg' }),
    { message: 'Cannot deploy: --region is required (for example --region eu-west-2).' }, 'without a region, only that: the ARN is not said to be "in undefined"')
})

t.test('names, URLs and ARNs a deploy would accept and the functions could not use are refused', async (t) => {
  const refusals: Array<[Record<string, string>, RegExp, string?]> = [
    [{ USER_CACHE_TABLE_NAME_STG: 'arn:aws:dynamodb:eu-west-2:123456789012:table/alma-users-stg' }, /USER_CACHE_TABLE_NAME_STG is not a table name \(3 to 255 letters, digits and _ \. -; the name, not the ARN\)/],
    [{ LOAN_CACHE_TABLE_NAME_STG: 'alma loans' }, /LOAN_CACHE_TABLE_NAME_STG is not a table name/],
    [{ ALMA_API_KEY_NAME: 'alma/api-key' }, /ALMA_API_KEY_NAME is not an SSM parameter name \(letters, digits and _ \. -, or a path of them from a leading \/: \/alma\/api-key\)/],
    [{ ALMA_API_KEY_NAME: '/alma//key' }, /ALMA_API_KEY_NAME is not an SSM parameter name/],
    [{ USER_QUEUE_URL_STG: 'https://example.com/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL \(https:\/\/sqs\.<region>\.amazonaws\.com\/<account>\/<queue>\)/, 'another host'],
    [{ USER_QUEUE_URL_STG: `${STG.USER_QUEUE_URL_STG}/` }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'a trailing slash'],
    [{ USER_QUEUE_URL_STG: STG.USER_QUEUE_URL_STG.replace('https:', 'http:') }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'plain http'],
    [{ USER_QUEUE_ARN_STG: 'arn:aws-cn:sqs:eu-west-2:123456789012:alma-users-stg' }, /USER_QUEUE_ARN_STG is not a queue ARN \(arn:aws:sqs:<region>:<account>:<queue>\)/, "another partition's ARN"],
    [{ ALMA_API_KEY_NAME: 'arn:aws-us-gov:ssm:eu-west-2:123456789012:parameter/alma' }, /ALMA_API_KEY_NAME is not the ARN of an SSM parameter in eu-west-2/, "another partition's parameter"],
    [{ ALMA_API_URL: 'http://api-eu.hosted.exlibrisgroup.com' }, /ALMA_API_URL must be Alma's https address, not http:\/\/api-eu\.hosted\.exlibrisgroup\.com \(one left from local work\?\)/],
    [{ ALMA_API_URL: 'https://127.0.0.1:4010' }, /ALMA_API_URL must be Alma's https address/, 'a loopback address'],
    [{ ALMA_API_URL: 'https://localhost:4010' }, /ALMA_API_URL must be Alma's https address/, 'localhost']
  ]
  for (const [env, message, about] of refusals) {
    await t.rejects(settingsWith({ ...STG, ...env }), { message }, about ?? JSON.stringify(env))
  }
  t.equal((await settingsWith({ ...STG, ALMA_API_KEY_NAME: 'alma-api-key', LOAN_CACHE_TABLE_NAME_STG: 'alma.loans_stg' })).functionTimeout, 25, 'a parameter name without a path, a table name with dots')
  // China's partition: its ARNs and its queue host.
  const china = {
    ...STG,
    USER_QUEUE_URL_STG: 'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/alma-users-stg',
    USER_QUEUE_ARN_STG: 'arn:aws-cn:sqs:cn-north-1:123456789012:alma-users-stg',
    ALMA_API_KEY_NAME: 'arn:aws-cn:ssm:cn-north-1:123456789012:parameter/alma/api-key'
  }
  const inChina = await settingsWith(china, { stage: 'stg', region: 'cn-north-1' })
  t.equal(inChina.functionTimeout, 25, 'cn-north-1, with aws-cn ARNs')
  t.equal(inChina.endpointType, 'REGIONAL', 'China has no edge-optimized APIs')
  const { code, output, dir } = await slsPackage(['--stage', 'stg', '--region', 'cn-north-1'], china)
  t.equal(code, 0, 'packaged for cn-north-1', { output })
  const restApi = Object.values((await readTemplate(dir)).Resources).find((resource) => resource.Type === 'AWS::ApiGateway::RestApi')
  t.same(restApi?.Properties.EndpointConfiguration, { Types: ['REGIONAL'] }, 'a regional API in the template')
  t.equal((await settingsWith(STG)).endpointType, 'EDGE', "elsewhere, the framework's default")
  await t.rejects(settingsWith(china, { stage: 'stg', region: 'eu-west-2' }), /USER_QUEUE_ARN_STG is not a queue ARN/, 'aws-cn ARNs for an aws region')
})

t.test("with several CORS origins, API Gateway's own answers name the caller's", async (t) => {
  const { gatewayResponses } = await settingsWith({ ...STG, CORS_ORIGINS: 'https://app.example.ac.uk, https://library.example.ac.uk' })
  const parameters = Object.values(gatewayResponses).map((response) => response.Properties.ResponseParameters)
  t.ok(parameters.length > 0)
  t.ok(parameters.every((headers) => headers['gatewayresponse.header.Access-Control-Allow-Origin'] === 'method.request.header.Origin' && headers['gatewayresponse.header.Vary'] === "'Origin'"))
})

t.test('prod open to anyone is deployed, with a warning', async (t) => {
  const open = { ...PROD, LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001', API_KEY_REQUIRED: 'false' }
  t.match((await settingsWith(open, { stage: 'prod', region: 'eu-west-1' })).warnings, /^Warning: API_KEY_REQUIRED=false: anyone who can reach the API reads any patron's records, and no usage plan/)
  t.match((await settingsWith({ ...open, CORS_ORIGINS: '*' }, { stage: 'prod', region: 'eu-west-1' })).warnings, /records, from any web site \(CORS_ORIGINS=\*\), and/)
  t.equal((await settingsWith({ ...STG, API_KEY_REQUIRED: 'false' })).warnings, '', 'none for stg')
})
