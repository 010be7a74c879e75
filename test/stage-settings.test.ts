import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'
import { CHINA, PROD, STG, settingsOf, settingsWith, type StageSettings } from './support/deploy-env.js'

// The deploy settings alone (deploy/stage-settings.cjs), as serverless resolves them: what
// reaches the functions and the role, and what is refused before anything is packaged.

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

t.test('an Alma URL on another host than Alma\'s is deployed, with a warning: the key goes there', async (t) => {
  t.match((await settingsWith({ ...STG, ALMA_API_URL: 'https://alma.example.org' })).warnings,
    /^Warning: ALMA_API_URL names alma\.example\.org, not one of Alma's API hosts \(api-<region>\.hosted\.exlibrisgroup\.com\): the Alma API key is sent there/, 'another host than Alma\'s: said, not refused')
  for (const url of ['https://api-na.hosted.exlibrisgroup.com', 'https://api-cn.hosted.exlibrisgroup.com.cn/', 'https://API-AP.hosted.exlibrisgroup.com']) {
    t.equal((await settingsWith({ ...STG, ALMA_API_URL: url })).warnings, '', `none for ${url}`)
  }
})

t.test('the key parameter named by its ARN is allowed by that ARN', async (t) => {
  const parameterArn = 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key'
  const settings = await settingsWith({ ...STG, ALMA_API_KEY_NAME: parameterArn })
  t.same(settings.statements[2], { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [parameterArn] })
  t.equal(settings.functionTimeout, 25)
  t.equal((await settingsWith({ ...STG, REQUEST_BUDGET_MS: '20000' })).functionTimeout, 25, 'the default budget fits')
})

t.test('customer-managed KMS keys of the key parameter and of the queue: used only through SSM and SQS, in their regions', async (t) => {
  const parameterKey = 'arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
  const queueKey = 'arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab'
  const queueElsewhere = { USER_QUEUE_URL_STG: 'https://sqs.us-east-1.amazonaws.com/123456789012/alma-users-stg', USER_QUEUE_ARN_STG: 'arn:aws:sqs:us-east-1:123456789012:alma-users-stg' }
  const [both, none, alias, otherRegion, queueKeyInDeployRegion, otherPartition, prodOnly, noStage] = await settingsOf([
    { env: { ...STG, ...queueElsewhere, ALMA_API_KEY_KMS_KEY_ARN: parameterKey, USER_QUEUE_KMS_KEY_ARN_STG: queueKey } },
    { env: STG },
    { env: { ...STG, ALMA_API_KEY_KMS_KEY_ARN: 'arn:aws:kms:eu-west-2:123456789012:alias/alma' } },
    { env: { ...STG, ALMA_API_KEY_KMS_KEY_ARN: parameterKey.replace('eu-west-2', 'eu-west-1') } },
    { env: { ...STG, ...queueElsewhere, USER_QUEUE_KMS_KEY_ARN_STG: parameterKey } },
    { env: { ...STG, USER_QUEUE_KMS_KEY_ARN_STG: parameterKey.replace('arn:aws:', 'arn:aws-cn:') } },
    { env: { ...STG, USER_QUEUE_KMS_KEY_ARN_PROD: parameterKey } },
    { env: { ...STG, USER_QUEUE_KMS_KEY_ARN: parameterKey } }
  ])
  t.same((both as StageSettings).statements.slice(3), [
    { Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [parameterKey], Condition: { StringEquals: { 'kms:ViaService': ['ssm.eu-west-2.amazonaws.com'] } } },
    { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: [queueKey], Condition: { StringEquals: { 'kms:ViaService': ['sqs.us-east-1.amazonaws.com'] } } }
  ], 'each key through its own service, in the region of what it encrypts')
  // KMS's pages name the calling service with .amazonaws.com; China's own domain is allowed beside it, unverified there.
  const chinaKey = 'arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
  const china = await settingsWith({ ...CHINA, ALMA_API_KEY_KMS_KEY_ARN: chinaKey, USER_QUEUE_KMS_KEY_ARN_STG: chinaKey }, { stage: 'stg', region: 'cn-north-1' })
  t.same(china.statements.slice(3).map((statement) => (statement as { Condition: unknown }).Condition), [
    { StringEquals: { 'kms:ViaService': ['ssm.cn-north-1.amazonaws.com', 'ssm.cn-north-1.amazonaws.com.cn'] } },
    { StringEquals: { 'kms:ViaService': ['sqs.cn-north-1.amazonaws.com', 'sqs.cn-north-1.amazonaws.com.cn'] } }
  ], 'in China, the services in either form, each only in its region')
  t.equal((none as StageSettings).statements.length, 3, 'without them, no KMS statement')
  t.equal((prodOnly as StageSettings).statements.length, 3, "prod's queue key is not stg's")
  t.match(alias, { message: /^Cannot deploy: ALMA_API_KEY_KMS_KEY_ARN is not the ARN of a KMS key \(arn:aws:kms:eu-west-2:<account>:key\/<key ID>; an alias's ARN does not do\)\.$/ }, 'an alias')
  t.match(otherRegion, { message: /^Cannot deploy: ALMA_API_KEY_KMS_KEY_ARN is a key of eu-west-1: SSM in eu-west-2 can use only a key of eu-west-2\.$/ }, 'a key of another region than the parameter\'s')
  t.match(queueKeyInDeployRegion, { message: /^Cannot deploy: USER_QUEUE_KMS_KEY_ARN_STG is a key of eu-west-2: a queue in us-east-1 can use only a key of us-east-1\.$/ }, 'a key of another region than the queue\'s')
  t.match(otherPartition, { message: /^Cannot deploy: USER_QUEUE_KMS_KEY_ARN_STG is a key of the aws-cn partition, not of aws, where the functions run\.$/ }, "another partition's key")
  t.match(noStage, { message: /^Cannot deploy: USER_QUEUE_KMS_KEY_ARN names no stage: the queue's key is given per stage, as the queue is \(USER_QUEUE_KMS_KEY_ARN_STG\)\.$/ }, 'the queue key without its stage: refused, not ignored')
})

t.test("a variable read for every stage, given with the deployed stage's suffix alone, is refused, not ignored", async (t) => {
  const parameterKey = 'arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
  const [parameterKeyOfProd, corsOfStg, both, otherStage] = await settingsOf([
    { env: { ...PROD, LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001', ALMA_API_KEY_KMS_KEY_ARN_PROD: parameterKey }, options: { stage: 'prod', region: 'eu-west-2' } },
    { env: { ...STG, CORS_ORIGINS_STG: 'https://app.example.ac.uk', API_KEY_REQUIRED_STG: 'false' } },
    { env: { ...STG, ALMA_API_KEY_KMS_KEY_ARN: parameterKey, ALMA_API_KEY_KMS_KEY_ARN_STG: parameterKey } },
    { env: { ...STG, CORS_ORIGINS_PROD: 'https://app.example.ac.uk' } }
  ])
  // Ignored, the role would get no kms:Decrypt on the key, and every read of the Alma key be refused.
  t.match(parameterKeyOfProd, { message: 'Cannot deploy: ALMA_API_KEY_KMS_KEY_ARN_PROD would be ignored: the deploy reads ALMA_API_KEY_KMS_KEY_ARN, one for every stage, without a suffix.' })
  const eachSaid = 'Cannot deploy: API_KEY_REQUIRED_STG would be ignored: the deploy reads API_KEY_REQUIRED, one for every stage, without a suffix; ' +
    'CORS_ORIGINS_STG would be ignored: the deploy reads CORS_ORIGINS, one for every stage, without a suffix.'
  t.match(corsOfStg, { message: eachSaid }, 'each said')
  t.match(both, { statements: [{}, {}, {}, { Action: ['kms:Decrypt'], Resource: [parameterKey] }] }, 'beside the name without a suffix (a pipeline copying it over): deployed')
  t.match(otherStage, { functionTimeout: 25 }, "another stage's: not this deploy's concern")
})

t.test('a budget the functions cannot keep, and a queue URL and ARN of different queues, fail the deploy', async (t) => {
  const elsewhere = { USER_QUEUE_URL_STG: 'https://sqs.us-east-1.amazonaws.com/123456789012/alma-users-stg', USER_QUEUE_ARN_STG: 'arn:aws:sqs:us-east-1:123456789012:alma-users-stg' }
  const notInRegion = ['arn:aws:ssm:us-east-1:123456789012:parameter/alma/api-key', 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:alma', 'arn:aws:ssm:eu-west-2:123456789012:parameter//alma']
  const [both, otherAccount, otherRegion, queueElsewhere, shared, noRegion, ...parameters] = await settingsOf([
    { env: { ...STG, REQUEST_BUDGET_MS: '20001', USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:123456789012:other-queue' } },
    { env: { ...STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:210987654321:alma-users-stg' } },
    { env: { ...STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:us-east-1:123456789012:alma-users-stg' } },
    { env: { ...STG, ...elsewhere } },
    { env: { ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:210987654321:parameter/shared/alma' } },
    { env: { ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma' }, options: { stage: 'stg' } },
    ...notInRegion.map((name) => ({ env: { ...STG, ALMA_API_KEY_NAME: name } }))
  ])
  t.match(both, {
    message: 'Cannot deploy: USER_QUEUE_URL_STG and USER_QUEUE_ARN_STG name different queues (eu-west-2:123456789012:alma-users-stg and eu-west-2:123456789012:other-queue); ' +
      'REQUEST_BUDGET_MS must be at most 20000 (the functions time out at 25 s, and a request needs up to 5 s past its budget).'
  })
  t.match(otherAccount, { message: /name different queues \(eu-west-2:123456789012:alma-users-stg and eu-west-2:210987654321:alma-users-stg\)/ }, 'another account')
  t.match(otherRegion, { message: /name different queues \(eu-west-2:123456789012:alma-users-stg and us-east-1:123456789012:alma-users-stg\)/ }, 'another region')
  t.match(queueElsewhere, { functionTimeout: 25 }, 'a queue in another region, named alike by both')
  t.match(shared, { functionTimeout: 25 }, "another account's shared parameter")
  t.match(noRegion, { message: 'Cannot deploy: --region is required (for example --region eu-west-2).' }, 'without a region, only that: the ARN is not said to be "in undefined"')
  parameters.forEach((refused, index) => {
    t.match(refused, { message: 'Cannot deploy: ALMA_API_KEY_NAME is not the ARN of an SSM parameter in eu-west-2 (arn:aws:ssm:eu-west-2:<account>:parameter/<name>).' }, String(notInRegion[index]))
  })
})

t.test('names, URLs and ARNs a deploy would accept and the functions could not use are refused', async (t) => {
  const refusals: Array<[Record<string, string>, RegExp, string?]> = [
    [{ USER_CACHE_TABLE_NAME_STG: 'arn:aws:dynamodb:eu-west-2:123456789012:table/alma-users-stg' }, /USER_CACHE_TABLE_NAME_STG is not a table name \(3 to 255 letters, digits and _ \. -; the name, not the ARN\)/],
    [{ LOAN_CACHE_TABLE_NAME_STG: 'alma loans' }, /LOAN_CACHE_TABLE_NAME_STG is not a table name/],
    [{ API_KEY_REQUIRED: 'yes' }, /API_KEY_REQUIRED must be true or false/, 'a yes that would leave the API open'],
    [{ API_KEY_REQUIRED: 'TRUE' }, /API_KEY_REQUIRED must be true or false/, 'in capitals'],
    [{ ALMA_API_KEY_NAME: 'alma/api-key' }, /ALMA_API_KEY_NAME is not an SSM parameter name \(letters, digits and _ \. -, or a path of them from a leading \/: \/alma\/api-key; a :version or :label may follow\)/],
    [{ ALMA_API_KEY_NAME: '/alma//key' }, /ALMA_API_KEY_NAME is not an SSM parameter name/],
    [{ USER_QUEUE_URL_STG: 'https://example.com/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL of the aws partition \(https:\/\/sqs\.<region>\.amazonaws\.com\/<account>\/<queue>\)/, 'another host'],
    [{ USER_QUEUE_URL_STG: `${STG.USER_QUEUE_URL_STG}/` }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'a trailing slash'],
    [{ USER_QUEUE_URL_STG: STG.USER_QUEUE_URL_STG.replace('https:', 'http:') }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'plain http'],
    [{ USER_QUEUE_ARN_STG: 'arn:aws-cn:sqs:eu-west-2:123456789012:alma-users-stg' }, /USER_QUEUE_ARN_STG is not a queue ARN of the aws partition \(arn:aws:sqs:<region>:<account>:<queue>\)/, "another partition's ARN"],
    [{ ALMA_API_KEY_NAME: 'arn:aws-us-gov:ssm:eu-west-2:123456789012:parameter/alma' }, /ALMA_API_KEY_NAME is not the ARN of an SSM parameter in eu-west-2/, "another partition's parameter"],
    [{ ALMA_API_URL: 'http://api-eu.hosted.exlibrisgroup.com' }, /ALMA_API_URL must be Alma's https address, not http:\/\/api-eu\.hosted\.exlibrisgroup\.com \(one left from local work\?\)/],
    [{ ALMA_API_URL: 'https://127.0.0.1:4010' }, /ALMA_API_URL must be Alma's https address/, 'a loopback address'],
    [{ ALMA_API_URL: 'https://localhost:4010' }, /ALMA_API_URL must be Alma's https address/, 'localhost'],
    [{ ALMA_API_URL: 'https://0x7f000001' }, /ALMA_API_URL must be Alma's https address, not https:\/\/127\.0\.0\.1 /, 'loopback in hex'],
    [{ ALMA_API_URL: 'https://[0:0:0:0:0:0:0:1]:8443' }, /ALMA_API_URL must be Alma's https address, not https:\/\/\[::1\]:8443 /, 'IPv6 loopback'],
    [{ ALMA_API_URL: 'http://user:secret@api-eu.hosted.exlibrisgroup.com' }, /not http:\/\/api-eu\.hosted\.exlibrisgroup\.com \(one left/, 'credentials in the URL never printed'],
    [{ ALMA_API_KEY_NAME: '/aws/reference/secretsmanager/alma-key' }, /ALMA_API_KEY_NAME names a Secrets Manager secret through SSM, which needs secretsmanager:GetSecretValue, not granted/],
    [{ ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/aws/reference/secretsmanager/alma-key' }, /names a Secrets Manager secret/, 'the same by ARN'],
    [{ ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma key' }, /ALMA_API_KEY_NAME is not the ARN of an SSM parameter/, 'a space in the ARN'],
    [{ USER_QUEUE_URL_STG: 'https://sqs.eu-west-2.amazonaws.com.cn/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL of the aws partition/, "China's domain for an aws region"],
    [{ USER_QUEUE_URL_STG: 'alma-users-stg' }, /^Cannot deploy: USER_QUEUE_URL_STG is not an SQS queue URL of the aws partition \([^)]+\)\.$/, 'a queue name, said once, with the variable as set'],
    [{ USER_QUEUE_URL_STG: 'https://evil.example#.amazonaws.com/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'a host that only reads as AWS\'s'],
    [{ USER_QUEUE_URL_STG: 'https://dynamodb.eu-west-2.amazonaws.com/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL/, "another service's host"],
    [{ USER_QUEUE_URL_STG: 'https://x.sqs.eu-west-2.amazonaws.com/123456789012/alma-users-stg' }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'a host under SQS\'s'],
    [{ USER_QUEUE_URL_STG: `${STG.USER_QUEUE_URL_STG}?Action=SendMessage` }, /USER_QUEUE_URL_STG is not an SQS queue URL/, 'a query'],
    [{ ALMA_API_URL: 'https://localhost./' }, /ALMA_API_URL must be Alma's https address/, 'localhost, fully qualified'],
    [{ ALMA_API_URL: 'https://[::ffff:0.0.0.0]/' }, /ALMA_API_URL must be Alma's https address/, 'unspecified, IPv4-mapped'],
    [{ ALMA_API_URL: 'https://[::127.0.0.1]/' }, /ALMA_API_URL must be Alma's https address/, 'loopback, IPv4-compatible'],
    [{ ALMA_API_URL: 'http://localhost:8080/almaws/v1' }, /^Cannot deploy: ALMA_API_URL must be Alma's https address, not http:\/\/localhost:8080 \(one left from local work\?\)\.$/, 'said once'],
    [{ ALMA_API_URL: 'localhost:8080' }, /^Cannot deploy: invalid ALMA_API_URL \(/, 'no scheme: the service\'s own words'],
    [{ REQUEST_BUDGET_MS: '1e5' }, /^Cannot deploy: invalid REQUEST_BUDGET_MS \(whole milliseconds, 1 to 9999999\)\.$/, 'a budget that is no whole number, said once'],
    [{ FEE_CACHE_TABLE_NAME_STG: '', LOG_LEVEL: 'loud' }, /^Cannot deploy: missing FEE_CACHE_TABLE_NAME_STG; invalid LOG_LEVEL \(/, 'every problem at once, missing or not']
  ]
  const refused = await settingsOf(refusals.map(([env]) => ({ env: { ...STG, ...env } })))
  refusals.forEach(([env, message, about], index) => {
    t.match(refused[index], { message }, about ?? JSON.stringify(env))
    t.type(refused[index], Error)
  })
  // Accepted, each for a reason of its own. China's partition: its ARNs and its queue host; the
  // European Sovereign Cloud: its own partition and domain, which the service's queue-region reading does not know.
  const sovereign = {
    ...STG,
    USER_QUEUE_URL_STG: 'https://sqs.eusc-de-east-1.amazonaws.eu/123456789012/alma-users-stg',
    USER_QUEUE_ARN_STG: 'arn:aws-eusc:sqs:eusc-de-east-1:123456789012:alma-users-stg'
  }
  const chinaQueue = { USER_QUEUE_URL_STG: CHINA.USER_QUEUE_URL_STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:cn-north-1:123456789012:alma-users-stg' }
  const [plainNames, localLooking, capitals, pinned, pinnedArn, inSovereign, inChina, inLondon, chinaForLondon, awsArnInChina] = await settingsOf([
    { env: { ...STG, ALMA_API_KEY_NAME: 'alma-api-key', LOAN_CACHE_TABLE_NAME_STG: 'alma.loans_stg' } },
    { env: { ...STG, ALMA_API_URL: 'https://localhost.library.example.ac.uk' } },
    { env: { ...STG, USER_QUEUE_URL_STG: STG.USER_QUEUE_URL_STG.replace('https://sqs', 'HTTPS://SQS') } },
    { env: { ...STG, ALMA_API_KEY_NAME: '/alma/api-key:3' } },
    { env: { ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key:current' } },
    { env: sovereign, options: { stage: 'stg', region: 'eusc-de-east-1' } },
    { env: CHINA, options: { stage: 'stg', region: 'cn-north-1' } },
    { env: STG },
    { env: CHINA },
    { env: { ...STG, ...chinaQueue } }
  ])
  t.match(plainNames, { functionTimeout: 25 }, 'a parameter name without a path, a table name with dots')
  t.match(localLooking, { functionTimeout: 25 }, 'a host whose name only begins with localhost')
  t.match(capitals, { functionTimeout: 25 }, 'a queue URL in capitals')
  // A version or label of the parameter: read as given, allowed by the parameter's own ARN.
  t.match(pinned, { environment: { ALMA_API_KEY_NAME: '/alma/api-key:3' } })
  t.match(JSON.stringify((pinned as StageSettings).statements), /"parameter\/alma\/api-key"\]/)
  t.match(pinnedArn, { statements: [{}, {}, { Resource: ['arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key'] }] })
  t.match(inSovereign, { endpointType: 'REGIONAL' }, 'eusc-de-east-1')
  t.match(inChina, { functionTimeout: 25, endpointType: 'REGIONAL' }, 'cn-north-1, with aws-cn ARNs: China has no edge-optimized APIs')
  t.match(inLondon, { endpointType: 'EDGE' }, "elsewhere, the framework's default")
  t.match(chinaForLondon, { message: /USER_QUEUE_ARN_STG is not a queue ARN/ }, 'aws-cn ARNs for an aws region')
  t.match(awsArnInChina, { message: /USER_QUEUE_ARN_STG is not a queue ARN of the aws partition/ }, "an aws ARN of China's region")
})

t.test('a region that is none, or none given, is said once, and alone', async (t) => {
  const cnQueue = { USER_QUEUE_URL_STG: CHINA.USER_QUEUE_URL_STG, USER_QUEUE_ARN_STG: CHINA.USER_QUEUE_ARN_STG }
  const [none, empty, made, upper] = await settingsOf([
    { env: { ...STG, ...cnQueue }, options: { stage: 'stg' } },
    { env: STG, options: { stage: 'stg', region: '' } },
    { env: STG, options: { stage: 'stg', region: 'foo' } },
    { env: { ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key' }, options: { stage: 'stg', region: 'EU-WEST-2' } }
  ])
  t.match(none, { message: 'Cannot deploy: --region is required (for example --region eu-west-2).' }, "an aws-cn queue is no partition's mismatch without a region")
  t.match(empty, { message: 'Cannot deploy: --region is required (for example --region eu-west-2).' })
  t.match(made, { message: "Cannot deploy: --region foo is not an AWS region's name (for example eu-west-2)." })
  t.match(upper, { message: "Cannot deploy: --region EU-WEST-2 is not an AWS region's name (for example eu-west-2)." })
})

t.test('a deploy with no bundle built is refused, with the command that builds it', async (t) => {
  // A checkout of deploy/ and src/ where npm run build never ran: serverless would otherwise package nothing.
  const checkout = await mkdtemp(join(tmpdir(), 'deploy-unbuilt-'))
  t.teardown(() => rm(checkout, { recursive: true, force: true }))
  await cp('deploy', join(checkout, 'deploy'), { recursive: true })
  for (const shared of ['src', 'node_modules']) await symlink(resolve(shared), join(checkout, shared))
  const [unbuilt] = await settingsOf([{ env: STG }], checkout)
  t.match(unbuilt, { message: 'Cannot deploy: dist/lambda.js is missing (run npm run build first).' })
})

t.test("with several CORS origins, API Gateway's own answers name the caller's", async (t) => {
  const { gatewayResponses } = await settingsWith({ ...STG, CORS_ORIGINS: 'https://app.example.ac.uk, https://library.example.ac.uk' })
  const parameters = Object.values(gatewayResponses).map((response) => response.Properties.ResponseParameters)
  t.ok(parameters.length > 0)
  t.ok(parameters.every((headers) => headers['gatewayresponse.header.Access-Control-Allow-Origin'] === 'method.request.header.Origin' && headers['gatewayresponse.header.Vary'] === "'Origin'"))
  t.ok(parameters.every((headers) => headers['gatewayresponse.header.Access-Control-Expose-Headers'] === "'X-Cache, Retry-After'"), 'Retry-After readable by the app')
})

t.test('prod open to anyone is deployed, with a warning', async (t) => {
  const open = { ...PROD, LOG_PSEUDONYM_KEY: 'pseudonyms-of-prod-0001', API_KEY_REQUIRED: 'false' }
  t.match((await settingsWith(open, { stage: 'prod', region: 'eu-west-1' })).warnings, /^Warning: API_KEY_REQUIRED=false: anyone who can reach the API reads any patron's records, and no usage plan/)
  t.match((await settingsWith({ ...open, CORS_ORIGINS: '*' }, { stage: 'prod', region: 'eu-west-1' })).warnings, /records, from any web site \(CORS_ORIGINS=\*\), and/)
  t.equal((await settingsWith({ ...STG, API_KEY_REQUIRED: 'false' })).warnings, '', 'none for stg')
})
