// The deploy-time settings of serverless.yml for the stage chosen with --stage
// (CONTRACT 5): only stg and prod, each from its own variables. Every problem is
// reported at once, in one message, before anything is packaged or deployed.
const { existsSync } = require('node:fs')
const path = require('node:path')
const tsx = require('tsx/cjs/api')
const { gatewayResponses } = require('./gateway-responses.cjs')

// The service's own reading of its configuration (src/config.ts): the deploy holds
// the functions' environment to it, and reads variables as it does.
const { loadConfig, ConfigError, CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, variable } = tsx.require('../src/config.ts', __filename)
// ...and the headers it puts on every answer, which API Gateway's own answers carry too.
const { EVERY_ANSWER_HEADERS } = tsx.require('../src/schemas/headers.ts', __filename)

const STAGES = ['stg', 'prod']

const RESOURCES = {
  userQueueUrl: 'USER_QUEUE_URL',
  userQueueArn: 'USER_QUEUE_ARN',
  userTable: 'USER_CACHE_TABLE_NAME',
  loanTable: 'LOAN_CACHE_TABLE_NAME',
  requestTable: 'REQUEST_CACHE_TABLE_NAME',
  feeTable: 'FEE_CACHE_TABLE_NAME'
}

// The functions' timeout (s), under API Gateway's 29 s, and what a request keeps of it
// past its budget: a cold start's set-up, the expired copies read after Alma fails
// (src/resolution/resolve.ts, 2 s at most) and the queue send.
const FUNCTION_TIMEOUT_S = 25
const AFTER_BUDGET_MS = 5000

// Optional runtime settings (CONTRACT 5 and README's configuration table), passed on when set.
const PASSED_THROUGH = ['ALMA_API_URL', 'LOG_LEVEL', 'LOG_PSEUDONYM_KEY', 'ALMA_CALL_TIMEOUT_MS', 'REQUEST_BUDGET_MS', 'CORS_ORIGINS']

// Read without a stage's suffix, one for every stage (CONTRACT 5 gives the key parameter once,
// and its KMS key goes with it), beside the stage's own variables, which have one.
const FOR_EVERY_STAGE = ['ALMA_API_KEY_NAME', 'ALMA_API_KEY_KMS_KEY_ARN', 'API_KEY_REQUIRED', 'DEPLOYMENT_BUCKET', ...PASSED_THROUGH]

class DeploySettingsError extends Error {
  constructor (problems) {
    super(`Cannot deploy: ${problems.join('; ')}.`)
    // serverless prints the stack of a failing variable source; this message is the whole story.
    this.stack = this.message
  }
}

const text = (name) => variable(process.env, name)

// DynamoDB's rule for table names; an ARN here would make an IAM resource of an ARN inside an ARN.
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/
// SSM's rule for parameter names (a name with a slash is a path from the root, so starts with
// one), with GetParameter's optional version or label (`/alma/api-key:3`), which IAM does not name.
const PARAMETER = /^((?:[A-Za-z0-9_.-]+|(?:\/[A-Za-z0-9_.-]+)+))(?::[A-Za-z0-9_.-]+)?$/
// SSM hands out Secrets Manager's secrets under this path, with secretsmanager:GetSecretValue,
// which the role is not given.
const SECRETS_MANAGER_REFERENCE = /^\/?aws\/reference\/secretsmanager\//i

// ARNs from CloudFormation's pseudo parameters, so that packaging needs no AWS credentials.
const arn = (service, resource) => ({
  'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, service, { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, resource]]
})

// An AWS region's name (eu-west-2, cn-north-1, us-gov-west-1, eusc-de-east-1, us-isob-east-1).
const REGION = /^[a-z]{2,}(?:-[a-z]+)+-\d+$/

/**
 * The key parameter's name or ARN: its problem, or the parameter the role is
 * allowed (without a version or label, which IAM does not name). A parameter's
 * ARN is fine, of another account too (a shared parameter), not of another
 * region: the functions read SSM in their own.
 */
function keyParameter (value, region, partition) {
  if (SECRETS_MANAGER_REFERENCE.test(value.replace(/^arn:[^/]*\//, '/'))) {
    return { problem: 'ALMA_API_KEY_NAME names a Secrets Manager secret through SSM, which needs secretsmanager:GetSecretValue, not granted: keep the key in an SSM SecureString parameter' }
  }
  if (!value.startsWith('arn:')) {
    const parameter = PARAMETER.exec(value)
    return parameter === null
      ? { problem: 'ALMA_API_KEY_NAME is not an SSM parameter name (letters, digits and _ . -, or a path of them from a leading /: /alma/api-key; a :version or :label may follow)' }
      : { name: parameter[1] }
  }
  // (An ARN names the parameter without its leading slash.)
  const parts = /^(arn:([\w-]+):ssm:([a-z0-9-]+):\d{12}:parameter\/)(.+)$/.exec(value)
  const parameter = parts === null ? null : PARAMETER.exec(`/${parts[4]}`)
  const inRegion = region === undefined || (parts?.[2] === partition.name && parts?.[3] === region)
  if (parts === null || parameter === null || !inRegion) {
    const where = region === undefined ? '' : ` in ${region}`
    return { problem: `ALMA_API_KEY_NAME is not the ARN of an SSM parameter${where} (arn:${partition?.name ?? 'aws'}:ssm:${region ?? '<region>'}:<account>:parameter/<name>)` }
  }
  return { name: parts[1] + parameter[1].slice(1) }
}

// A KMS key by its ARN: key use is allowed by the key's ARN, never by an alias's.
const KMS_KEY_ARN = /^arn:([\w-]+):kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/

/**
 * The problem with the ARN of a customer-managed KMS key that encrypts the key
 * parameter or the queue, if it has one. SSM and SQS use keys of their own
 * region only: `region` is the parameter's or the queue's (`of`), when known.
 */
function kmsKeyProblem (name, value, region, partition, of) {
  const parts = KMS_KEY_ARN.exec(value)
  const expected = `arn:${partition?.name ?? 'aws'}:kms:${region ?? '<region>'}:<account>:key/<key ID>`
  if (parts === null) return `${name} is not the ARN of a KMS key (${expected}; an alias's ARN does not do)`
  if (partition !== undefined && parts[1] !== partition.name) return `${name} is a key of the ${parts[1]} partition, not of ${partition.name}, where the functions run`
  if (partition !== undefined && region !== undefined && parts[2] !== region) return `${name} is a key of ${parts[2]}: ${of} in ${region} can use only a key of ${region}`
  return undefined
}

/**
 * The role's use of a customer-managed KMS key, only through the service that
 * holds what the key encrypts: it cannot decrypt other ciphertexts with it directly.
 * KMS's pages write the service as `<service>.<region>.amazonaws.com`; outside the
 * `aws` partition, where AWS names some services with the partition's own domain
 * (`amazonaws.com.cn`) and which form KMS uses there could not be checked from
 * here, both forms are allowed: either names the same service in the same region.
 */
const kmsKeyUse = (actions, keyArn, service, region, partition) => ({
  Effect: 'Allow',
  Action: actions,
  Resource: [keyArn],
  Condition: {
    StringEquals: { 'kms:ViaService': [...new Set(['amazonaws.com', partition.dnsSuffix])].map((domain) => `${service}.${region}.${domain}`) }
  }
})

/**
 * The region of an SQS host of `partition` (the AWS SDK's own table of domains):
 * sqs.<region>.<domain>, with -fips, a VPC endpoint's prefix or the dual-stack
 * domain, and the legacy <region>.queue.<domain> and queue.amazonaws.com. The
 * service's own reading (queueRegion) is laxer, as it must be for emulators.
 */
function sqsRegionOf (hostname, partition, partitionOf) {
  const parts = /^(?:vpce-[a-z0-9-]+\.)?sqs(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?(.+)$/.exec(hostname) ??
    /^([a-z0-9-]+)\.queue\.(.+)$/.exec(hostname) ?? (hostname === 'queue.amazonaws.com' ? [hostname, 'us-east-1', 'amazonaws.com'] : null)
  if (parts === null || !REGION.test(parts[1])) return undefined
  const { name, dnsSuffix, dualStackDnsSuffix } = partitionOf(parts[1])
  return name === partition.name && [dnsSuffix, dualStackDnsSuffix].includes(parts[2]) ? parts[1] : undefined
}

/**
 * What is wrong with the users queue's URL and ARN, if anything: the URL must be
 * SQS's own, of the deploy's partition (the runtime takes any queue URL, emulators'
 * too, and a deployed function would sign its sends to any host), and name the
 * queue of the ARN. A name or an ARN in the URL's place is said here, with the
 * stage's variable (the service's own check, loadConfig, would name USER_QUEUE_URL).
 */
function queueProblems (url, queueArn, suffix, partition, partitionOf) {
  const problems = []
  // Without a region (reported already), the ARN's shape alone.
  const name = partition?.name ?? '[\\w-]+'
  const arnParts = new RegExp(`^arn:${name}:sqs:([a-z0-9-]+):(\\d{12}):([\\w-]+(?:\\.fifo)?)$`).exec(queueArn ?? '')
  if (queueArn !== undefined && (arnParts === null || (partition !== undefined && partitionOf(arnParts[1]).name !== partition.name))) {
    problems.push(`USER_QUEUE_ARN${suffix} is not a queue ARN${partition === undefined ? '' : ` of the ${partition.name} partition`} (arn:${partition?.name ?? 'aws'}:sqs:<region>:<account>:<queue>)`)
  }
  if (url === undefined) return problems
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  const path = /^\/(\d{12})\/([\w-]+(?:\.fifo)?)$/.exec(parsed?.pathname ?? '')
  const plain = parsed?.protocol === 'https:' && parsed.username === '' && parsed.password === '' && parsed.search === '' && parsed.hash === '' && ['', '443'].includes(parsed.port)
  const urlRegion = plain && partition !== undefined ? sqsRegionOf(parsed.hostname, partition, partitionOf) : undefined
  if (!plain || path === null || (partition !== undefined && urlRegion === undefined)) {
    problems.push(`USER_QUEUE_URL${suffix} is not an SQS queue URL${partition === undefined ? '' : ` of the ${partition.name} partition`} (https://sqs.<region>.${partition?.dnsSuffix ?? 'amazonaws.com'}/<account>/<queue>)`)
  } else if (arnParts !== null && urlRegion !== undefined) {
    const fromUrl = [urlRegion, path[1], path[2]].join(':')
    if (fromUrl !== arnParts.slice(1).join(':')) {
      problems.push(`USER_QUEUE_URL${suffix} and USER_QUEUE_ARN${suffix} name different queues (${fromUrl} and ${arnParts.slice(1).join(':')})`)
    }
  }
  return problems
}

/**
 * ALMA_API_URL's problem for a deploy, if it has one: the key goes to Alma in a
 * header, so over https only, and to no address of the deploying machine's own
 * (a URL left from local work). Other malformed values are the service's own
 * check's (loadConfig). Credentials in the URL are never repeated.
 */
function almaUrlProblem (value) {
  const url = value !== undefined && URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || !['http:', 'https:'].includes(url.protocol)) return undefined
  if (url.protocol === 'https:' && !isLocalHost(url.hostname)) return undefined
  return `ALMA_API_URL must be Alma's https address, not ${url.protocol}//${url.host} (one left from local work?)`
}

// Alma's API hosts, one a region (alma-api.md), China's under .com.cn.
const ALMA_API_HOST = /^api-[a-z]+\.hosted\.exlibrisgroup\.com(?:\.cn)?\.?$/

// Loopback and unspecified addresses, as URL gives them: it reads 0x7f000001 and
// [0:0:0:0:0:0:0:1] as 127.0.0.1 and [::1], and IPv4-mapped or -compatible IPv6 in hex.
const isLocalHost = (hostname) => {
  const host = hostname.replace(/\.$/, '')
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '0.0.0.0' ||
    /^\[::(?:1|ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}|7f[0-9a-f]{2}:[0-9a-f]{1,4}|ffff:0:0)?\]$/i.test(host)
}

/** The CORS headers of API Gateway's own answers (see gatewayResponses below). */
function gatewayCorsHeaders (origins) {
  if (origins === undefined) return {}
  // Retry-After, on its throttling and refused invocations, readable as on the app's own 503s.
  const exposed = { 'gatewayresponse.header.Access-Control-Expose-Headers': `'${CORS_EXPOSED_HEADERS.join(', ')}'` }
  if (origins.length === 1) return { 'gatewayresponse.header.Access-Control-Allow-Origin': `'${origins[0]}'`, ...exposed }
  return { 'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin', 'gatewayresponse.header.Vary': "'Origin'", ...exposed }
}

module.exports = async ({ options }) => {
  const { stage, region } = options
  if (!STAGES.includes(stage)) {
    throw new DeploySettingsError([`the stage must be one of ${STAGES.join(', ')} (--stage ${STAGES.join(' or --stage ')}); got ${stage == null ? 'no --stage' : `"${stage}"`}`])
  }
  const problems = []
  const hasRegion = region != null && region !== ''
  if (!hasRegion) problems.push('--region is required (for example --region eu-west-2)')
  else if (!REGION.test(region)) problems.push(`--region ${region} is not an AWS region's name (for example eu-west-2)`)
  // The region's partition (the AWS SDK's own table): an ARN or a host of another names nothing the functions can reach.
  const { partition: partitionOf } = require('@aws-sdk/core/client')
  const knownRegion = hasRegion && REGION.test(region) ? region : undefined
  const partition = knownRegion === undefined ? undefined : partitionOf(knownRegion)

  const suffix = `_${stage.toUpperCase()}`
  const missing = []
  const values = {}
  for (const [key, name] of Object.entries(RESOURCES)) {
    values[key] = text(name + suffix)
    if (values[key] === undefined) missing.push(name + suffix)
  }
  const almaApiKeyName = text('ALMA_API_KEY_NAME')
  if (almaApiKeyName === undefined) missing.push('ALMA_API_KEY_NAME')
  const keyParameterOf = almaApiKeyName === undefined ? {} : keyParameter(almaApiKeyName, knownRegion, partition)
  if (keyParameterOf.problem !== undefined) problems.push(keyParameterOf.problem)
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`)
  for (const key of ['userTable', 'loanTable', 'requestTable', 'feeTable']) {
    if (values[key] !== undefined && !TABLE_NAME.test(values[key])) {
      problems.push(`${RESOURCES[key]}${suffix} is not a table name (3 to 255 letters, digits and _ . -; the name, not the ARN)`)
    }
  }
  const queueProblemsOf = queueProblems(values.userQueueUrl, values.userQueueArn, suffix, partition, partitionOf)
  problems.push(...queueProblemsOf)
  // Optional: the customer-managed KMS keys of the key parameter (in the deploy's region,
  // where the functions read SSM) and of the queue (in the queue's region).
  const parameterKey = text('ALMA_API_KEY_KMS_KEY_ARN')
  if (parameterKey !== undefined) {
    const problem = kmsKeyProblem('ALMA_API_KEY_KMS_KEY_ARN', parameterKey, knownRegion, partition, 'SSM')
    if (problem !== undefined) problems.push(problem)
  }
  const queueKey = text(`USER_QUEUE_KMS_KEY_ARN${suffix}`)
  const queueRegion = queueProblemsOf.length === 0 ? values.userQueueArn?.split(':')[3] : undefined
  if (queueKey !== undefined) {
    const problem = kmsKeyProblem(`USER_QUEUE_KMS_KEY_ARN${suffix}`, queueKey, queueRegion, partition, 'a queue')
    if (problem !== undefined) problems.push(problem)
  }
  // The queue is the stage's, and so is its key: unsuffixed, the name would be ignored, and every send fail.
  if (text('USER_QUEUE_KMS_KEY_ARN') !== undefined) {
    problems.push(`USER_QUEUE_KMS_KEY_ARN names no stage: the queue's key is given per stage, as the queue is (USER_QUEUE_KMS_KEY_ARN${suffix})`)
  }
  // The converse: one of them given with this stage's suffix alone would be ignored, and the stage
  // deployed without it (ALMA_API_KEY_KMS_KEY_ARN_PROD: no kms:Decrypt, every read of the key refused).
  // Beside the name without a suffix (a pipeline that copies the stage's value over), it is left alone.
  for (const name of FOR_EVERY_STAGE) {
    if (text(name + suffix) !== undefined && text(name) === undefined) {
      problems.push(`${name}${suffix} would be ignored: the deploy reads ${name}, one for every stage, without a suffix`)
    }
  }
  const almaUrl = almaUrlProblem(text('ALMA_API_URL'))
  if (almaUrl !== undefined) problems.push(almaUrl)
  // (A budget that is no whole number of milliseconds is the service's own check's, below.)
  const budget = text('REQUEST_BUDGET_MS')
  if (budget !== undefined && /^\d+$/.test(budget) && Number(budget) > FUNCTION_TIMEOUT_S * 1000 - AFTER_BUDGET_MS) {
    problems.push(`REQUEST_BUDGET_MS must be at most ${FUNCTION_TIMEOUT_S * 1000 - AFTER_BUDGET_MS} (the functions time out at ${FUNCTION_TIMEOUT_S} s, and a request needs up to ${AFTER_BUDGET_MS / 1000} s past its budget)`)
  }

  const apiKeyRequired = text('API_KEY_REQUIRED') ?? 'true'
  if (!['true', 'false'].includes(apiKeyRequired)) problems.push('API_KEY_REQUIRED must be true or false')
  if (!existsSync(path.join(__dirname, '..', 'dist', 'lambda.js'))) problems.push('dist/lambda.js is missing (run npm run build first)')

  const environment = {
    USER_CACHE_TABLE_NAME: values.userTable,
    LOAN_CACHE_TABLE_NAME: values.loanTable,
    REQUEST_CACHE_TABLE_NAME: values.requestTable,
    FEE_CACHE_TABLE_NAME: values.feeTable,
    USER_QUEUE_URL: values.userQueueUrl,
    ALMA_API_KEY_NAME: almaApiKeyName,
    // Each stage's metrics apart, should stg and prod share an account.
    METRICS_NAMESPACE: `AlmaCacheApi/${stage}`,
    ...Object.fromEntries(PASSED_THROUGH.flatMap((name) => text(name) === undefined ? [] : [[name, text(name)]]))
  }
  // The functions' environment, held here to the service's own rules (src/config.ts):
  // a bad LOG_LEVEL or timeout fails the deploy, not every invocation after it. Missing
  // variables are said above; so are the queue URL's and ALMA_API_URL's problems, when
  // they have one, with the stage's variable and the deploy's own rule.
  let config
  try {
    config = loadConfig({ ...environment, AWS_REGION: knownRegion ?? 'eu-west-2' })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const saidAbove = [
      ...(queueProblemsOf.some((problem) => problem.startsWith('USER_QUEUE_URL')) ? ['USER_QUEUE_URL '] : []),
      ...(almaUrl === undefined ? [] : ['ALMA_API_URL '])
    ]
    const invalid = error.invalid.filter((problem) => !saidAbove.some((name) => problem.startsWith(name)))
    if (invalid.length > 0) problems.push(`invalid ${invalid.join(', ')}`)
  }
  if (problems.length > 0) throw new DeploySettingsError(problems)
  const { corsOrigins } = config
  if (corsOrigins !== undefined) environment.CORS_ORIGINS = corsOrigins.join(',')
  // Not refused (the contract's deploy needs no such variable), but said: unkeyed, the
  // user pseudonyms of prod's logs can be reversed by hashing candidate IDs.
  if (stage === 'prod' && environment.LOG_PSEUDONYM_KEY === undefined) {
    process.stderr.write('Warning: LOG_PSEUDONYM_KEY is not set: the user pseudonyms in the logs can be reversed (see "Configuration" in docs/operations.md).\n')
  }
  // Nor is an open prod refused (an API behind a gateway of the library's own may want it),
  // but said: patrons' loans and fees, by guessable IDs, with no usage plan's throttle.
  if (stage === 'prod' && apiKeyRequired === 'false') {
    process.stderr.write(`Warning: API_KEY_REQUIRED=false: anyone who can reach the API reads any patron's records${corsOrigins?.includes('*') === true ? ', from any web site (CORS_ORIGINS=*)' : ''}, and no usage plan throttles the Alma calls they cost.\n`)
  }

  // Nor is another host for Alma refused (a gateway of the library's own may stand before
  // it), but said: the Alma key goes with every call to wherever ALMA_API_URL points.
  const almaHost = environment.ALMA_API_URL === undefined ? undefined : new URL(environment.ALMA_API_URL).hostname
  if (almaHost !== undefined && !ALMA_API_HOST.test(almaHost)) {
    process.stderr.write(`Warning: ALMA_API_URL names ${almaHost}, not one of Alma's API hosts (api-<region>.hosted.exlibrisgroup.com): the Alma API key is sent there with every call.\n`)
  }

  // GetParameter takes a name or the parameter's ARN; an ARN names the parameter without its leading slash.
  const parameterName = keyParameterOf.name
  const parameterArn = parameterName.startsWith('arn:') ? parameterName : arn('ssm', `parameter/${parameterName.replace(/^\//, '')}`)
  return {
    stage,
    // Edge-optimized APIs are the aws partition's only.
    endpointType: partition.name === 'aws' ? 'EDGE' : 'REGIONAL',
    functionTimeout: FUNCTION_TIMEOUT_S,
    environment,
    statements: [
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        Resource: [values.userTable, values.loanTable, values.requestTable, values.feeTable].map((table) => arn('dynamodb', `table/${table}`))
      },
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [values.userQueueArn] },
      { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [parameterArn] },
      ...(parameterKey === undefined ? [] : [kmsKeyUse(['kms:Decrypt'], parameterKey, 'ssm', region, partition)]),
      // Sending to a queue encrypted with a key of the account's own takes both (SQS's documentation).
      ...(queueKey === undefined ? [] : [kmsKeyUse(['kms:GenerateDataKey', 'kms:Decrypt'], queueKey, 'sqs', queueRegion, partition)])
    ],
    apiKeyRequired: apiKeyRequired === 'true',
    // API Gateway answers the preflight requests (never cached by a shared cache, as
    // every answer of the service); the app adds the CORS headers to its answers.
    cors: corsOrigins === undefined ? false : { origins: corsOrigins, headers: CORS_ALLOWED_HEADERS, maxAge: 600, cacheControl: 'no-store' },
    // API Gateway's own answers: never cached, and readable by the browser apps allowed.
    // A gateway response cannot choose among origins: with several, it echoes the
    // caller's. Its body is only the error (no record, nothing personal), so an origin
    // not allowed reading it learns nothing; left out, the allowed apps would see
    // these answers as network errors.
    gatewayResponses: gatewayResponses({
      ...Object.fromEntries(Object.entries(EVERY_ANSWER_HEADERS).map(([name, value]) => [`gatewayresponse.header.${name}`, `'${value}'`])),
      ...gatewayCorsHeaders(corsOrigins)
    }),
    deploymentBucket: text('DEPLOYMENT_BUCKET') === undefined ? {} : { name: text('DEPLOYMENT_BUCKET') }
  }
}
