import type { AlmaKeySource } from './clients/alma-key.js'
import type { CacheTables } from './clients/dynamo-cache.js'

/** The runtime configuration of CONTRACT 5, the same for the Lambdas and the server. */
export interface Config {
  tables: CacheTables
  userQueueUrl: string
  /** AWS_ENDPOINT_URL_SQS is set: send there whatever host the queue URL names */
  sqsEndpointOverride: boolean
  almaApiUrl: string
  /** ALMA_API_KEY when set, else the SSM parameter ALMA_API_KEY_NAME */
  almaKey: AlmaKeySource
  /** LOG_LEVEL, default info */
  logLevel: LogLevel
  /** LOG_PSEUDONYM_KEY: keys the user pseudonyms of the logs; unkeyed SHA-256 when unset */
  logPseudonymKey?: string
  /** CORS_ORIGINS: browser origins allowed to call the API (`*` for any); none when unset */
  corsOrigins?: string[]
  /** ALMA_CALL_TIMEOUT_MS: one Alma call, from connect to the last byte */
  almaCallTimeoutMs: number
  /** REQUEST_BUDGET_MS: every Alma call of a request is over by then */
  requestBudgetMs: number
  /** METRICS_NAMESPACE: the CloudWatch namespace of the EMF records (the deploy: one per stage) */
  metricsNamespace: string
}

// The defaults fit one request under the Lambda timeout (25 s, deploy/stage-settings.cjs)
// and API Gateway's 29 s, with room for the cache reads and the queue send.
export const DEFAULT_ALMA_CALL_TIMEOUT_MS = 8000
const DEFAULT_REQUEST_BUDGET_MS = 20_000
// A key guessed as easily as the IDs it hides would hide nothing.
const MIN_PSEUDONYM_KEY_LENGTH = 16

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export const DEFAULT_ALMA_API_URL = 'https://api-eu.hosted.exlibrisgroup.com'
/** The request headers a browser app on a CORS origin may send: by API Gateway's preflights (the deploy) and the server's. */
export const CORS_ALLOWED_HEADERS = ['Content-Type', 'X-Api-Key', 'Authorization']
/**
 * The answer headers a browser app may read besides the few every browser
 * shows (Cache-Control and Content-Type among them): where a 200 came from
 * (a stale one is worth telling the patron), and when to retry a 503.
 */
export const CORS_EXPOSED_HEADERS = ['X-Cache', 'Retry-After']
/**
 * The `Access-Control-Allow-Origin` that @fastify/cors gives an answer to a
 * browser app on `origin` under CORS_ORIGINS, or false for none; for the
 * answers the router gives before @fastify/cors's hook runs.
 */
export const corsAllowOrigin = (corsOrigins: readonly string[], origin: string | undefined): string | false =>
  corsOrigins.includes('*') ? '*' : origin !== undefined && corsOrigins.includes(origin) ? origin : false
const DEFAULT_METRICS_NAMESPACE = 'AlmaCacheApi'
// CloudWatch's rule for a namespace, less the AWS/ prefix kept for its own services.
const METRICS_NAMESPACE_PATTERN = /^(?!AWS\/)[A-Za-z0-9 ._/#:-]{1,255}$/

const REQUIRED = [
  'USER_CACHE_TABLE_NAME',
  'LOAN_CACHE_TABLE_NAME',
  'REQUEST_CACHE_TABLE_NAME',
  'FEE_CACHE_TABLE_NAME',
  'USER_QUEUE_URL',
  'AWS_REGION'
] as const

const SDK_ENDPOINT_VARIABLES = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_SSM'] as const

export class ConfigError extends Error {
  constructor (readonly missing: readonly string[], readonly invalid: readonly string[] = []) {
    const problems = [
      ...(missing.length > 0 ? [`Missing configuration: ${missing.join(', ')}`] : []),
      ...(invalid.length > 0 ? [`Invalid configuration: ${invalid.join(', ')}`] : [])
    ]
    super(`${problems.join('. ')}. See "Configuration" in docs/operations.md.`)
    this.name = 'ConfigError'
    // The operator's to fix, never a bug: where it was thrown from says nothing.
    this.stack = `${this.name}: ${this.message}`
  }
}

/**
 * An Alma key as an Authorization header can carry it: printable ASCII, no
 * blanks. Anything else (a zero-width space pasted along) undici refuses on
 * every call, which would read as Alma unreachable.
 */
export const isUsableAlmaKey = (key: string): boolean => /^[\x21-\x7e]+$/.test(key)

/** An http(s) URL with nothing after its path. */
const isWebURL = (text: string): boolean => {
  const url = URL.parse(text)
  return url !== null && ['http:', 'https:'].includes(url.protocol) && url.search === '' && url.hash === ''
}

/**
 * What a browser or app shell sends as its Origin, compared as text by the CORS
 * check: for http(s), scheme, lower-case host and port, nothing more; for an app's
 * own scheme (capacitor://localhost, ionic://localhost), scheme and host. No
 * wildcards inside: `https://*.example.org` would never match anything.
 */
const isOrigin = (text: string): boolean => {
  if (text === '*') return true
  if (text.includes('*')) return false
  if (/^https?:/i.test(text)) return isWebURL(text) && new URL(text).origin === text
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/.test(text)
}

/** A variable's value, trimmed; a blank one is unset. */
export const variable = (env: NodeJS.ProcessEnv, name: string): string | undefined => env[name]?.trim() || undefined

/** Reads CONTRACT 5 from the environment; throws one error naming every missing or invalid variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const value = (name: string) => variable(env, name)
  const missing: string[] = REQUIRED.filter((name) => value(name) === undefined)
  const key = value('ALMA_API_KEY')
  const parameterName = value('ALMA_API_KEY_NAME')
  if (key === undefined && parameterName === undefined) missing.push('ALMA_API_KEY_NAME (or ALMA_API_KEY)')
  const invalid: string[] = []
  if (key !== undefined && !isUsableAlmaKey(key)) invalid.push('ALMA_API_KEY (printable ASCII without blanks)')
  const almaApiUrl = value('ALMA_API_URL') ?? DEFAULT_ALMA_API_URL
  // alma-api.md writes the base with /almaws/v1; the service adds that itself (CONTRACT 3.6).
  if (!isWebURL(almaApiUrl) || /\/almaws(\/|$)/.test(new URL(almaApiUrl).pathname)) {
    invalid.push(`ALMA_API_URL (Alma's host, as ${DEFAULT_ALMA_API_URL}, without /almaws/v1)`)
  }
  // The AWS SDK reads these itself, untrimmed: a region with blanks around it, or a blank
  // endpoint, would fail every call it makes (the cache read as missing, the key never read).
  const region = env.AWS_REGION
  if (region !== undefined && value('AWS_REGION') !== undefined && region !== region.trim()) invalid.push('AWS_REGION (a region\'s name, without blanks around it)')
  for (const name of SDK_ENDPOINT_VARIABLES) {
    if (env[name] !== undefined && env[name] !== '' && value(name) === undefined) invalid.push(`${name} (blank: unset it, or give an endpoint URL)`)
  }
  const userQueueUrl = value('USER_QUEUE_URL')
  // Not parsed as a URL: emulators name queues with hosts WHATWG's parser refuses (sqs.eu-west-2.127.0.0.1).
  if (userQueueUrl !== undefined && !/^https?:\/\/[^\s/]+\/\S/i.test(userQueueUrl)) invalid.push('USER_QUEUE_URL (the queue\'s URL, not its name or ARN)')
  // In any case: WARN is as clear as warn.
  const logLevel = (value('LOG_LEVEL') ?? 'info').toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) invalid.push(`LOG_LEVEL (one of ${LOG_LEVELS.join(', ')})`)
  const logPseudonymKey = value('LOG_PSEUDONYM_KEY')
  if (logPseudonymKey !== undefined && logPseudonymKey.length < MIN_PSEUDONYM_KEY_LENGTH) invalid.push(`LOG_PSEUDONYM_KEY (at least ${MIN_PSEUDONYM_KEY_LENGTH} characters)`)
  // Undefined when unreadable (and said so): not compared with the other below.
  const milliseconds = (name: string, fallback: number) => {
    const text = value(name)
    if (text === undefined) return fallback
    if (/^[1-9]\d{0,6}$/.test(text)) return Number(text)
    invalid.push(`${name} (whole milliseconds, 1 to 9999999)`)
    return undefined
  }
  const almaCallTimeoutMs = milliseconds('ALMA_CALL_TIMEOUT_MS', DEFAULT_ALMA_CALL_TIMEOUT_MS)
  const requestBudgetMs = milliseconds('REQUEST_BUDGET_MS', DEFAULT_REQUEST_BUDGET_MS)
  if (almaCallTimeoutMs !== undefined && requestBudgetMs !== undefined && almaCallTimeoutMs > requestBudgetMs) {
    // Named after the one the operator set: a budget set alone below the default call timeout is the budget's mistake.
    invalid.push(value('ALMA_CALL_TIMEOUT_MS') === undefined
      ? `REQUEST_BUDGET_MS (${requestBudgetMs}; at least ALMA_CALL_TIMEOUT_MS, ${almaCallTimeoutMs} by default)`
      : `ALMA_CALL_TIMEOUT_MS (${almaCallTimeoutMs}; at most REQUEST_BUDGET_MS, ${requestBudgetMs}${value('REQUEST_BUDGET_MS') === undefined ? ' by default' : ''})`)
  }
  const metricsNamespace = value('METRICS_NAMESPACE') ?? DEFAULT_METRICS_NAMESPACE
  if (!METRICS_NAMESPACE_PATTERN.test(metricsNamespace)) invalid.push('METRICS_NAMESPACE (a CloudWatch namespace: letters, digits, spaces and . _ / # : -, not starting AWS/)')
  const corsOrigins = value('CORS_ORIGINS')?.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  const notOrigins = corsOrigins?.filter((origin) => !isOrigin(origin)) ?? []
  if (notOrigins.length > 0) invalid.push(`CORS_ORIGINS (origins as browsers send them, like https://app.example.org or capacitor://localhost, or *; not ${notOrigins.join(' ')})`)
  if (missing.length > 0 || invalid.length > 0 || almaCallTimeoutMs === undefined || requestBudgetMs === undefined) throw new ConfigError(missing, invalid)

  const required = (name: typeof REQUIRED[number]) => value(name) as string
  return {
    tables: {
      users: required('USER_CACHE_TABLE_NAME'),
      loans: required('LOAN_CACHE_TABLE_NAME'),
      requests: required('REQUEST_CACHE_TABLE_NAME'),
      fees: required('FEE_CACHE_TABLE_NAME')
    },
    userQueueUrl: userQueueUrl as string,
    sqsEndpointOverride: value('AWS_ENDPOINT_URL_SQS') !== undefined,
    almaApiUrl,
    almaKey: key !== undefined ? { key } : { parameterName: parameterName as string },
    logLevel: logLevel as LogLevel,
    logPseudonymKey,
    corsOrigins,
    almaCallTimeoutMs,
    requestBudgetMs,
    metricsNamespace
  }
}
