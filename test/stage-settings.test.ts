import t from 'tap'
import { CHINA, PROD, STG, settingsWith } from './support/deploy-env.js'

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
    [{ USER_QUEUE_URL_STG: 'alma-users-stg' }, /^Cannot deploy: USER_QUEUE_URL_STG is not an SQS queue URL of the aws partition \([^)]+\)\.$/, 'a queue name, said once, with the variable as set']
  ]
  for (const [env, message, about] of refusals) {
    await t.rejects(settingsWith({ ...STG, ...env }), { message }, about ?? JSON.stringify(env))
  }
  t.equal((await settingsWith({ ...STG, ALMA_API_KEY_NAME: 'alma-api-key', LOAN_CACHE_TABLE_NAME_STG: 'alma.loans_stg' })).functionTimeout, 25, 'a parameter name without a path, a table name with dots')
  t.equal((await settingsWith({ ...STG, ALMA_API_URL: 'https://localhost.library.example.ac.uk' })).functionTimeout, 25, 'a host whose name only begins with localhost')
  t.equal((await settingsWith({ ...STG, USER_QUEUE_URL_STG: STG.USER_QUEUE_URL_STG.replace('https://sqs', 'HTTPS://SQS') })).functionTimeout, 25, 'a queue URL in capitals')
  // A version or label of the parameter: read as given, allowed by the parameter's own ARN.
  const pinned = await settingsWith({ ...STG, ALMA_API_KEY_NAME: '/alma/api-key:3' })
  t.equal(pinned.environment.ALMA_API_KEY_NAME, '/alma/api-key:3')
  t.match(JSON.stringify(pinned.statements), /"parameter\/alma\/api-key"\]/)
  const pinnedArn = await settingsWith({ ...STG, ALMA_API_KEY_NAME: 'arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key:current' })
  t.match(pinnedArn.statements, [{}, {}, { Resource: ['arn:aws:ssm:eu-west-2:123456789012:parameter/alma/api-key'] }])
  // The European Sovereign Cloud: its own partition and domain, which the service's queue-region reading does not know.
  const sovereign = {
    ...STG,
    USER_QUEUE_URL_STG: 'https://sqs.eusc-de-east-1.amazonaws.eu/123456789012/alma-users-stg',
    USER_QUEUE_ARN_STG: 'arn:aws-eusc:sqs:eusc-de-east-1:123456789012:alma-users-stg'
  }
  t.equal((await settingsWith(sovereign, { stage: 'stg', region: 'eusc-de-east-1' })).endpointType, 'REGIONAL', 'eusc-de-east-1')
  // China's partition: its ARNs and its queue host.
  const china = CHINA
  const inChina = await settingsWith(china, { stage: 'stg', region: 'cn-north-1' })
  t.equal(inChina.functionTimeout, 25, 'cn-north-1, with aws-cn ARNs')
  t.equal(inChina.endpointType, 'REGIONAL', 'China has no edge-optimized APIs')
  t.equal((await settingsWith(STG)).endpointType, 'EDGE', "elsewhere, the framework's default")
  await t.rejects(settingsWith(china, { stage: 'stg', region: 'eu-west-2' }), /USER_QUEUE_ARN_STG is not a queue ARN/, 'aws-cn ARNs for an aws region')
  const chinaQueue = { USER_QUEUE_URL_STG: CHINA.USER_QUEUE_URL_STG, USER_QUEUE_ARN_STG: 'arn:aws:sqs:cn-north-1:123456789012:alma-users-stg' }
  await t.rejects(settingsWith({ ...STG, ...chinaQueue }), /USER_QUEUE_ARN_STG is not a queue ARN of the aws partition/, "an aws ARN of China's region")
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
