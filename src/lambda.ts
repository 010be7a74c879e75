import awsLambdaFastify, { type LambdaResponse } from '@fastify/aws-lambda'
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda'
import { pino } from 'pino'
import { buildApp, type RouteName } from './app.js'
import { loadConfig } from './config.js'
import { loggedError } from './observability/logged-error.js'

// The seven Lambda handlers of CONTRACT 6. Each container serves one route: it
// builds the app with that route only, on its first event, and keeps it for
// the warm invocations that follow (the Alma key is read once, on its first Alma call).

type Handler = (event: ProxyEvent, context: Context) => Promise<LambdaResponse>
type ProxyEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2

function handlerFor (route: RouteName): Handler {
  let proxy: Promise<Handler> | undefined
  return async (event, context) => {
    proxy ??= startRoute(route).catch(async (error: unknown) => {
      // Not remembered: the next event tries again (a misconfiguration stays visible as Lambda errors).
      proxy = undefined
      // What went wrong (a configuration error, mostly), as the app's own lines read, with both request IDs.
      logFailure(event, context, error, 'could not start')
      throw error
    })
    try {
      // Started first: a console test event sent to a misconfigured function is told what to fix.
      const serve = await proxy
      if (!isProxyEvent(event)) {
        const error = new TypeError('Not an API Gateway proxy event: no path (REST API) or rawPath (HTTP API)')
        // Never reaches the app, so no summary line: this one instead, as for a failed start.
        logFailure(event, context, error, 'not an API Gateway proxy event')
        throw error
      }
      return await serve(forTheApp(event, context), context)
    } finally {
      await outputWritten()
    }
  }
}

/**
 * An invocation that fails outside the app (it did not start, or the event is
 * not API Gateway's), as one error line. Written whatever LOG_LEVEL says (the
 * app's logger reads it, and may not have started). An event that is not API
 * Gateway's (a test event of the console) has no request ID; the error is
 * logged all the same.
 */
function logFailure (event: unknown, context: Context, error: unknown, message: string): void {
  pino({ serializers: { err: loggedError } }, process.stdout)
    .error({ reqId: apiGatewayRequestIdOf(event), awsRequestId: context.awsRequestId, err: error }, message)
}

/** API Gateway's request ID; none in a hand-made event (the console's test events) without a request context. */
function apiGatewayRequestIdOf (event: unknown): string | undefined {
  const requestId: unknown = (event as Partial<ProxyEvent> | null | undefined)?.requestContext?.requestId
  return typeof requestId === 'string' ? requestId : undefined
}

/**
 * Resolves once everything written to stdout so far is out: a write to a pipe
 * may wait its turn, and a Lambda may be frozen, or never thawed, once it has
 * answered. (An empty write's callback comes after those queued before it.)
 */
const outputWritten = () => new Promise<void>((resolve) => { process.stdout.write('', () => { resolve() }) })

// REST APIs hand the path over encoded; HTTP APIs, of either payload version,
// decoded, where a `/` or `..` inside an ID reads as path syntax. So an HTTP API's
// path is rebuilt from the route it matched and the parameters it read, each
// percent-encoded, as the server would have received it. A path that cannot be
// rebuilt ($default and greedy routes, hand-made events) is escaped instead: a
// decoded `?`, `#` or space inside an ID would cut it short, and a `%` be decoded
// a second time (`a%252D` would reach the app as `a-`); escaped, they stay part
// of the ID and fail its validation (400), as on the server. Matched by code
// point (the u flag): half a surrogate pair cannot be percent-encoded.
const NOT_IN_AN_ENCODED_PATH = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu
const NOT_IN_A_DECODED_PATH = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu

// Both set here from the invocation, whatever a caller sent under those names.
const API_GATEWAY_REQUEST_ID_HEADER = 'x-request-id'
const LAMBDA_REQUEST_ID_HEADER = 'x-lambda-request-id'
const REQUEST_ID_HEADERS = [API_GATEWAY_REQUEST_ID_HEADER, LAMBDA_REQUEST_ID_HEADER]

/** API Gateway's proxy events: a REST API's (`path`) or an HTTP API's (`rawPath`; `path` in payload 1.0). */
function isProxyEvent (event: unknown): event is ProxyEvent {
  if (typeof event !== 'object' || event === null) return false
  return typeof ('rawPath' in event ? event.rawPath : (event as { path?: unknown }).path) === 'string'
}

/** The event as the app should see it: the path encoded, the two request IDs in headers. */
function forTheApp (event: ProxyEvent, context: Context): ProxyEvent {
  // Without API Gateway's request ID, Fastify makes one of its own, and the request is served all the same.
  const apiGatewayRequestId = apiGatewayRequestIdOf(event)
  const ours: Record<string, string> = {
    ...(apiGatewayRequestId === undefined ? {} : { [API_GATEWAY_REQUEST_ID_HEADER]: apiGatewayRequestId }),
    [LAMBDA_REQUEST_ID_HEADER]: context.awsRequestId
  }
  const theirs = <T>(headers: Record<string, T> | null | undefined) =>
    Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !REQUEST_ID_HEADERS.includes(name.toLowerCase())))
  if ('rawPath' in event) {
    return { ...event, headers: { ...theirs(event.headers), ...ours }, rawPath: appPath(event.rawPath, event.routeKey?.split(' ')[1], event.pathParameters, true) }
  }
  // @fastify/aws-lambda reads a header from multiValueHeaders only when it holds several values:
  // one there alone (headers null, or without it) is read as `headers` would give it, its last value.
  const inHeaders = new Set(Object.keys(event.headers ?? {}).map((name) => name.toLowerCase()))
  const onlyInMultiValue = Object.entries(event.multiValueHeaders ?? {})
    .flatMap(([name, values]): Array<[string, string]> => {
      const last = values?.at(-1)
      return inHeaders.has(name.toLowerCase()) || last === undefined ? [] : [[name, last]]
    })
  const headers = { ...theirs(Object.fromEntries(onlyInMultiValue)), ...theirs(event.headers), ...ours }
  // REST events carry no version; an HTTP API's payload 1.0 does.
  return { ...event, headers, multiValueHeaders: theirs(event.multiValueHeaders), path: appPath(event.path, event.resource, event.pathParameters, 'version' in event) }
}

type PathParameters = Record<string, string | undefined> | null | undefined

/**
 * A route API Gateway matched by its path: not `$default`, not greedy (`{proxy+}`).
 * Not one at all in a hand-made event without it, or with it null.
 */
const isPlainRoute = (template: string | null | undefined): template is string =>
  typeof template === 'string' && template.startsWith('/') && !template.includes('+}')

function appPath (path: string, template: string | undefined, parameters: PathParameters, isDecoded: boolean): string {
  const encoded = isDecoded
    ? rebuiltRoute(path, template, parameters) ?? path.replace(NOT_IN_A_DECODED_PATH, percentEncoded)
    : routePath(path, template, parameters).replace(NOT_IN_AN_ENCODED_PATH, percentEncoded)
  return withDotSegmentsKept(encoded)
}

/** Half a surrogate pair, which encodeURIComponent throws on, is sent as U+FFFD. */
const percentEncoded = (text: string): string => encodeURIComponent(text.toWellFormed())

const ROUTE_PARAMETER = /\{([^}]+)\}/g

/**
 * A decoded path's route, its parameters percent-encoded in place: when the
 * route is a plain one, every parameter is given, and the path ends in the
 * route so filled (after a stage or an API mapping, which are cut).
 */
function rebuiltRoute (path: string, template: string | undefined, parameters: PathParameters): string | undefined {
  if (!isPlainRoute(template)) return undefined
  const given = new Map<string, string>()
  for (const [, name = ''] of template.matchAll(ROUTE_PARAMETER)) {
    const value = parameters?.[name]
    if (value === undefined) return undefined
    given.set(name, value)
  }
  const filled = (encode: (value: string) => string) => template.replace(ROUTE_PARAMETER, (_, name: string) => encode(given.get(name) as string))
  return path.endsWith(filled((value) => value)) ? filled(percentEncoded) : undefined
}

/**
 * The app is handed the path through a URL parser, which resolves `.` and `..`
 * segments (`%2E` too): `/users/../loans` would become `/loans`. The server
 * never resolves them, and answers 400 for such an ID. Encoded once more, a
 * dot segment reaches the app as `%2E`, an ID that fails validation the same way.
 */
const withDotSegmentsKept = (path: string): string =>
  path.split('/').map((segment) => /^(?:\.|%2e){1,2}$/i.test(segment) ? '%252E'.repeat(decoded(segment).length) : segment).join('/')

/**
 * A REST API's path without what API Gateway puts before the route: behind a
 * custom domain, the base path mapping. Only a path that ends in the route
 * API Gateway matched (`template`), with the very parameters it matched, is
 * cut.
 */
function routePath (path: string, template: string | undefined, parameters: PathParameters): string {
  if (!isPlainRoute(template)) return path
  const route = template.split('/').slice(1)
  const segments = path.split('/').slice(1)
  const prefix = segments.length - route.length
  if (prefix <= 0) return path
  const tail = segments.slice(prefix)
  const isRoute = route.every((segment, index) => {
    const name = /^\{(.+)\}$/.exec(segment)?.[1]
    const sent = tail[index] as string
    // REST APIs pass the parameters decoded, or as sent.
    return name === undefined ? segment === sent : [sent, decoded(sent)].some((form) => form === parameters?.[name])
  })
  return isRoute ? `/${tail.join('/')}` : path
}

function decoded (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

// Lambda refuses a response over 6 MB (6,291,556 bytes), counted as the JSON the
// runtime sends: the body an escaped string inside it, beside the status and the
// headers, which take under 1 KB here.
const LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556
const STATUS_AND_HEADERS_ALLOWANCE_BYTES = 8192

async function startRoute (route: RouteName): Promise<Handler> {
  const config = loadConfig()
  const app = await buildApp({
    config,
    // Logs and EMF lines through the one stream, in order (see outputWritten).
    logger: { level: config.logLevel, stream: process.stdout },
    routes: [route],
    // Lambda sends stdout to CloudWatch Logs, which reads the EMF lines as metrics.
    writeMetrics: (line) => { process.stdout.write(line) },
    // Every log line carries API Gateway's request ID (as reqId) and Lambda's own.
    requestIdHeader: API_GATEWAY_REQUEST_ID_HEADER,
    requestLogFields: (headers) => ({ awsRequestId: String(headers[LAMBDA_REQUEST_ID_HEADER]) }),
    maxAnswerBytes: LAMBDA_RESPONSE_LIMIT_BYTES - STATUS_AND_HEADERS_ALLOWANCE_BYTES
  })
  const proxy = awsLambdaFastify(app)
  await app.ready()
  return proxy
}

export const getUser = handlerFor('getUser')
export const getUserLoans = handlerFor('getUserLoans')
export const getUserLoan = handlerFor('getUserLoan')
export const getUserRequests = handlerFor('getUserRequests')
export const getUserRequest = handlerFor('getUserRequest')
export const getUserFees = handlerFor('getUserFees')
export const getUserFee = handlerFor('getUserFee')
