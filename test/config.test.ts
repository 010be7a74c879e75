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
  t.same((t.throws(() => loadConfig({ ...complete, ALMA_API_URL: 'not a url' })) as ConfigError).missing, ['ALMA_API_URL (not a URL)'])
  t.match((t.throws(() => loadConfig({ ...complete, LOG_LEVEL: 'verbose' })) as ConfigError).missing, [/^LOG_LEVEL \(one of fatal, /])
  t.same((t.throws(() => loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '5s', REQUEST_BUDGET_MS: '0' })) as ConfigError).missing,
    ['ALMA_CALL_TIMEOUT_MS (whole milliseconds, 1 to 9999999)', 'REQUEST_BUDGET_MS (whole milliseconds, 1 to 9999999)'])
  t.same((t.throws(() => loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '9000', REQUEST_BUDGET_MS: '5000' })) as ConfigError).missing,
    ['ALMA_CALL_TIMEOUT_MS (at most REQUEST_BUDGET_MS)'])
  t.same((t.throws(() => loadConfig({ ...complete, LOG_PSEUDONYM_KEY: 'short' })) as ConfigError).missing, ['LOG_PSEUDONYM_KEY (at least 16 characters)'])
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
    requestBudgetMs: 20_000
  })
  const local = loadConfig({ ...complete, ALMA_API_KEY_NAME: undefined, ALMA_API_KEY: 'k', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566', ALMA_API_URL: 'http://127.0.0.1:9000' })
  t.same(local.almaKey, { key: 'k' }, 'ALMA_API_KEY stands in for the SSM parameter')
  t.same(loadConfig({ ...complete, ALMA_API_KEY: 'k' }).almaKey, { key: 'k' }, 'and is used instead of SSM when both are set')
  t.equal(local.sqsEndpointOverride, true)
  t.equal(local.almaApiUrl, 'http://127.0.0.1:9000')
  t.equal(loadConfig({ ...complete, LOG_LEVEL: 'warn' }).logLevel, 'warn')
  t.equal(loadConfig({ ...complete, LOG_LEVEL: 'WARN' }).logLevel, 'warn', 'in any case')
  t.equal(loadConfig({ ...complete, LOG_PSEUDONYM_KEY: 'a-long-enough-secret' }).logPseudonymKey, 'a-long-enough-secret')
  t.match(loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '3000', REQUEST_BUDGET_MS: '10000' }), { almaCallTimeoutMs: 3000, requestBudgetMs: 10_000 })
  t.match(loadConfig({ ...complete, ALMA_CALL_TIMEOUT_MS: '5000', REQUEST_BUDGET_MS: '5000' }), { almaCallTimeoutMs: 5000, requestBudgetMs: 5000 }, 'a call may have the whole budget')
  t.same(loadConfig({ ...complete, CORS_ORIGINS: 'https://app.example.ac.uk, https://m.example.ac.uk,' }).corsOrigins,
    ['https://app.example.ac.uk', 'https://m.example.ac.uk'])
})
