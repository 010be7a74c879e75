import t from 'tap'
import { ConfigError, DEFAULT_ALMA_API_URL, loadConfig } from '../src/config.js'

const complete = {
  USER_CACHE_TABLE_NAME: 'users',
  LOAN_CACHE_TABLE_NAME: 'loans',
  REQUEST_CACHE_TABLE_NAME: 'requests',
  FEE_CACHE_TABLE_NAME: 'fees',
  USER_QUEUE_URL: 'https://sqs.eu-west-2.amazonaws.com/123456789012/users',
  AWS_REGION: 'eu-west-2',
  ALMA_API_KEY_NAME: '/alma/key'
}

t.test('every missing variable is named in one error', async (t) => {
  const error = t.throws(() => loadConfig({})) as ConfigError
  t.type(error, ConfigError)
  t.same(error.missing, [
    'USER_CACHE_TABLE_NAME', 'LOAN_CACHE_TABLE_NAME', 'REQUEST_CACHE_TABLE_NAME', 'FEE_CACHE_TABLE_NAME',
    'USER_QUEUE_URL', 'AWS_REGION', 'ALMA_API_KEY_NAME (or ALMA_API_KEY)'
  ])
  t.match(error.message, /^Missing configuration: USER_CACHE_TABLE_NAME, .*ALMA_API_KEY_NAME/)
  t.same((t.throws(() => loadConfig({ ...complete, USER_QUEUE_URL: '  ' })) as ConfigError).missing, ['USER_QUEUE_URL'], 'blank is missing')
})

t.test('every value that cannot work is named in the same error, as invalid', async (t) => {
  const invalid = (env: Record<string, string>) => {
    const error = t.throws(() => loadConfig({ ...complete, ...env })) as ConfigError
    t.same(error.missing, [])
    t.match(error.message, /^Invalid configuration: /)
    return error.invalid
  }
  const almaUrl = [`ALMA_API_URL (Alma's host, as ${DEFAULT_ALMA_API_URL}, without /almaws/v1)`]
  for (const url of ['not a url', 'ftp://alma.example.org', `${DEFAULT_ALMA_API_URL}/almaws/v1`, `${DEFAULT_ALMA_API_URL}/almaws`, `${DEFAULT_ALMA_API_URL}?apikey=x`, `${DEFAULT_ALMA_API_URL}#eu`]) {
    t.same(invalid({ ALMA_API_URL: url }), almaUrl, url)
  }
  t.same(invalid({ USER_QUEUE_URL: 'alma-users' }), ['USER_QUEUE_URL (the queue\'s URL, not its name or ARN)'], 'a queue name, not its URL')
  t.same(invalid({ USER_QUEUE_URL: 'arn:aws:sqs:eu-west-2:123456789012:users' }), ['USER_QUEUE_URL (the queue\'s URL, not its name or ARN)'], 'an ARN, not the URL')
  for (const endpoint of ['https://sqs.eu-west-2.amazonaws.com', 'https://sqs.eu-west-2.amazonaws.com/']) {
    t.same(invalid({ USER_QUEUE_URL: endpoint }), ['USER_QUEUE_URL (the queue\'s URL, not its name or ARN)'], `${endpoint}: SQS's endpoint, naming no queue`)
  }
  t.match(invalid({ LOG_LEVEL: 'verbose' }), [/^LOG_LEVEL \(one of fatal, /])
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: '5s', REQUEST_BUDGET_MS: '0' }),
    ['ALMA_CALL_TIMEOUT_MS (whole milliseconds, 1 to 9999999)', 'REQUEST_BUDGET_MS (whole milliseconds, 1 to 9999999)'])
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: '10000000', REQUEST_BUDGET_MS: '10000000' }),
    ['ALMA_CALL_TIMEOUT_MS (whole milliseconds, 1 to 9999999)', 'REQUEST_BUDGET_MS (whole milliseconds, 1 to 9999999)'], 'one over the largest')
  t.match(loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '9999999', REQUEST_BUDGET_MS: '9999999' }), { almaCallTimeoutMs: 9_999_999, requestBudgetMs: 9_999_999 }, 'the largest')
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: '9000', REQUEST_BUDGET_MS: '5000' }), ['ALMA_CALL_TIMEOUT_MS (9000; at most REQUEST_BUDGET_MS, 5000)'])
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: '5001', REQUEST_BUDGET_MS: '5000' }), ['ALMA_CALL_TIMEOUT_MS (5001; at most REQUEST_BUDGET_MS, 5000)'], 'a millisecond over')
  t.same(invalid({ REQUEST_BUDGET_MS: '5000' }), ['REQUEST_BUDGET_MS (5000; at least ALMA_CALL_TIMEOUT_MS, 8000 by default)'],
    'a budget set alone below the default call timeout is named, with the default it falls short of')
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: '25000' }), ['ALMA_CALL_TIMEOUT_MS (25000; at most REQUEST_BUDGET_MS, 20000 by default)'],
    'a call timeout set alone over the default budget is named, with the default it exceeds')
  t.same(invalid({ ALMA_CALL_TIMEOUT_MS: 'abc', REQUEST_BUDGET_MS: '1000' }), ['ALMA_CALL_TIMEOUT_MS (whole milliseconds, 1 to 9999999)'],
    'an unreadable timeout is said once, not compared with the budget as its default')
  // The AWS SDK reads these untrimmed: with blanks around the region, or a blank endpoint, every call it made would fail.
  t.same(invalid({ AWS_REGION: ' eu-west-2 ' }), ['AWS_REGION (a region\'s name, without blanks around it)'])
  t.same(invalid({ AWS_ENDPOINT_URL_DYNAMODB: ' ', AWS_ENDPOINT_URL_SQS: '\t', AWS_ENDPOINT_URL_SSM: '  ' }),
    ['AWS_ENDPOINT_URL_DYNAMODB (blank: unset it, or give an endpoint URL)', 'AWS_ENDPOINT_URL_SQS (blank: unset it, or give an endpoint URL)', 'AWS_ENDPOINT_URL_SSM (blank: unset it, or give an endpoint URL)'])
  t.same(invalid({ LOG_PSEUDONYM_KEY: 'short' }), ['LOG_PSEUDONYM_KEY (at least 16 characters)'])
  for (const namespace of ['AWS/Lambda', 'Alma|Cache', 'a'.repeat(256)]) {
    t.same(invalid({ METRICS_NAMESPACE: namespace }), ['METRICS_NAMESPACE (a CloudWatch namespace: letters, digits, spaces and . _ / # : -, not starting AWS/)'], namespace)
  }
  t.same(invalid({ ALMA_API_KEY: 'l7xx\u200bkey' }), ['ALMA_API_KEY (printable ASCII without blanks)'], 'a zero-width space pasted along')
  t.same(invalid({ ALMA_API_KEY: 'l7xx key' }), ['ALMA_API_KEY (printable ASCII without blanks)'], 'a blank inside the key (blanks around it are trimmed)')
  t.same(invalid({ CORS_ORIGINS: 'https://app.example.org, app.example.org,https://App.example.org,https://app.example.org/,https://*.example.org,capacitor://,capacitor://localhost/,ionic://localhost/app' }),
    ['CORS_ORIGINS (origins as browsers send them, like https://app.example.org or capacitor://localhost, or *; not app.example.org https://App.example.org https://app.example.org/ https://*.example.org capacitor:// capacitor://localhost/ ionic://localhost/app)'])

  // Both kinds at once: one message.
  const both = t.throws(() => loadConfig({ ...complete, AWS_REGION: '', LOG_LEVEL: 'loud' })) as ConfigError
  t.match(both.message, /^Missing configuration: AWS_REGION\. Invalid configuration: LOG_LEVEL \(one of [^)]+\)\. See "Configuration" in docs\/operations\.md\.$/)

  // What may be given: a base path in front of Alma (a proxy), plain http (a local stack), any origin.
  t.equal(loadConfig({ ...complete, ALMA_API_URL: 'http://127.0.0.1:8080/alma-proxy' }).almaApiUrl, 'http://127.0.0.1:8080/alma-proxy')
  t.same(loadConfig({ ...complete, CORS_ORIGINS: '*' }).corsOrigins, ['*'])
  t.same(loadConfig({ ...complete, CORS_ORIGINS: 'http://localhost:5173' }).corsOrigins, ['http://localhost:5173'])
  t.same(loadConfig({ ...complete, CORS_ORIGINS: 'capacitor://localhost,ionic://localhost,chrome-extension://abcdefghijklmnop' }).corsOrigins,
    ['capacitor://localhost', 'ionic://localhost', 'chrome-extension://abcdefghijklmnop'], "mobile app shells' and extensions' origins")
})

t.test('a complete environment', async (t) => {
  t.same(loadConfig(complete), {
    tables: { users: 'users', loans: 'loans', requests: 'requests', fees: 'fees' },
    userQueueUrl: complete.USER_QUEUE_URL,
    sqsEndpointOverride: false,
    almaApiUrl: DEFAULT_ALMA_API_URL,
    almaKey: { parameterName: '/alma/key' },
    logLevel: 'info',
    corsOrigins: undefined,
    almaCallTimeoutMs: 8000,
    requestBudgetMs: 20_000,
    metricsNamespace: 'AlmaCacheApi'
  })
  t.equal(loadConfig({ ...complete, METRICS_NAMESPACE: 'AlmaCacheApi/prod' }).metricsNamespace, 'AlmaCacheApi/prod')
  const local = loadConfig({ ...complete, ALMA_API_KEY_NAME: undefined, ALMA_API_KEY: 'k', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566', ALMA_API_URL: 'http://127.0.0.1:9000' })
  t.same(local.almaKey, { key: 'k' }, 'ALMA_API_KEY stands in for the SSM parameter')
  t.same(loadConfig({ ...complete, ALMA_API_KEY: 'k' }).almaKey, { key: 'k' }, 'and is used instead of SSM when both are set')
  t.equal(local.sqsEndpointOverride, true)
  t.equal(local.almaApiUrl, 'http://127.0.0.1:9000')
  t.equal(loadConfig({ ...complete, LOG_LEVEL: 'warn' }).logLevel, 'warn')
  t.equal(loadConfig({ ...complete, LOG_LEVEL: 'WARN' }).logLevel, 'warn', 'in any case')
  t.equal(loadConfig({ ...complete, LOG_PSEUDONYM_KEY: 'a-long-enough-secret' }).logPseudonymKey, 'a-long-enough-secret')
  t.equal(loadConfig({ ...complete, LOG_PSEUDONYM_KEY: 'x'.repeat(16) }).logPseudonymKey, 'x'.repeat(16), 'a pseudonym key of 16 characters is enough')
  t.throws(() => loadConfig({ ...complete, LOG_PSEUDONYM_KEY: 'x'.repeat(15) }), /LOG_PSEUDONYM_KEY \(at least 16 characters\)/, '15 are not')
  t.equal(DEFAULT_ALMA_API_URL, 'https://api-eu.hosted.exlibrisgroup.com', "CONTRACT 5's default host")
  t.equal(loadConfig({ ...complete, AWS_ENDPOINT_URL_SQS: '' }).sqsEndpointOverride, false, 'an empty endpoint variable is unset: the queue URL names the host')
  t.match(loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '3000', REQUEST_BUDGET_MS: '10000' }), { almaCallTimeoutMs: 3000, requestBudgetMs: 10_000 })
  t.match(loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '5000', REQUEST_BUDGET_MS: '5000' }), { almaCallTimeoutMs: 5000, requestBudgetMs: 5000 }, 'a call may have the whole budget')
  t.same(loadConfig({ ...complete, CORS_ORIGINS: 'https://app.example.ac.uk, https://m.example.ac.uk,' }).corsOrigins,
    ['https://app.example.ac.uk', 'https://m.example.ac.uk'])
})
