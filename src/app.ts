import type { IncomingHttpHeaders } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyLoggerOptions, type FastifyPluginAsync } from 'fastify'
import type { LoggerOptions } from 'pino'
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, corsAllowOrigin, type Config } from './config.js'
import { loggedError } from './observability/logged-error.js'
import almaPlugin from './plugins/alma.js'
import cachePlugin from './plugins/cache.js'
import httpContract, { clientErrorAnswer, malformedPathAnswer } from './plugins/http-contract.js'
import observability, { recordAnswer } from './plugins/observability.js'
import resolutionPlugin from './plugins/resolution.js'
import userQueuePlugin from './plugins/user-queue.js'
import { schemaCompilers } from './schemas/compilers.js'
import userRoute from './routes/user.js'
import userFeeRoute from './routes/user-fee.js'
import userFeesRoute from './routes/user-fees.js'
import userLoanRoute from './routes/user-loan.js'
import userLoansRoute from './routes/user-loans.js'
import userRequestRoute from './routes/user-request.js'
import userRequestsRoute from './routes/user-requests.js'

/** The seven endpoints, by the handler names of CONTRACT 6. */
const ROUTES = {
  getUser: userRoute,
  getUserLoans: userLoansRoute,
  getUserLoan: userLoanRoute,
  getUserRequests: userRequestsRoute,
  getUserRequest: userRequestRoute,
  getUserFees: userFeesRoute,
  getUserFee: userFeeRoute
} satisfies Record<string, FastifyPluginAsync>

export type RouteName = keyof typeof ROUTES
export const ROUTE_NAMES = Object.keys(ROUTES) as RouteName[]

export interface AppOptions {
  config: Config
  /** the routes to serve; a Lambda serves only its own */
  routes?: readonly RouteName[]
  logger?: false | (FastifyLoggerOptions & LoggerOptions)
  /** where each request's CloudWatch EMF metrics line goes (the Lambdas: stdout); none when unset */
  writeMetrics?: (line: string) => void
  /** plugins registered after the infrastructure and before the routes, so that they see the routes (the API description of `npm run dev`) */
  plugins?: readonly FastifyPluginAsync[]
  /** header whose value becomes the request ID in the logs (the Lambdas: API Gateway's) */
  requestIdHeader?: string
  /** more fields for every log line of a request, from its raw headers (the Lambdas: their own request ID) */
  requestLogFields?: (headers: IncomingHttpHeaders) => Record<string, string>
  /** the largest answer the transport carries (the Lambdas: Lambda's response limit); see plugins/http-contract.ts */
  maxAnswerBytes?: number
  /** base of the Alma retry backoff (AlmaClient's default when unset) */
  almaRetryBaseDelayMs?: number
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const observabilityOptions = { writeMetrics: options.writeMetrics, pseudonymKey: config.logPseudonymKey, metricsNamespace: config.metricsNamespace }
  const app = Fastify({
    logger: options.logger === false ? false : { level: config.logLevel, ...options.logger, serializers: { ...options.logger?.serializers, err: loggedError } },
    requestIdHeader: options.requestIdHeader ?? false,
    frameworkErrors: (_error, request, reply) => {
      // Refused by the router, before any hook (@fastify/cors's too): a browser app on an
      // allowed origin must still be able to read why, and the answer is logged and counted here.
      if (config.corsOrigins !== undefined) {
        const allowOrigin = corsAllowOrigin(config.corsOrigins, request.headers.origin)
        if (allowOrigin !== false) reply.header('access-control-allow-origin', allowOrigin)
        if (allowOrigin !== '*') reply.header('vary', 'Origin')
        reply.header('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '))
      }
      malformedPathAnswer(reply)
      recordAnswer(request, reply, observabilityOptions)
    },
    clientErrorHandler: clientErrorAnswer,
    // Answered by the app, in the contract's shape (plugins/http-contract.ts).
    http: { requireHostHeader: false },
    schemaController: { compilersFactory: schemaCompilers },
    childLoggerFactory: (logger, bindings, childOptions, raw) =>
      logger.child({ ...bindings, ...options.requestLogFields?.(raw.headers) }, childOptions),
    // One summary line per request instead (plugins/observability.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // A request that meets the server closing (on a busy keep-alive connection) is served, with
    // `Connection: close`, through the hooks that give every answer the contract's headers;
    // Fastify's own early 503 would carry neither no-store nor Retry-After.
    return503OnClosing: false,
    // Long enough for an ID just over its limit to reach validation, whose 400 names the
    // rule it breaks; a longer one gets the router's 400 (malformedPathAnswer).
    routerOptions: { maxParamLength: 512 }
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(observability, observabilityOptions)
  await app.register(httpContract, { maxAnswerBytes: options.maxAnswerBytes })
  // Browser apps on other origins; API Gateway answers their preflight requests itself.
  // Loaded only when configured: most deployments serve apps, not browsers.
  // Unset, @fastify/cors would allow whatever headers a preflight asks for, from any origin.
  if (config.corsOrigins !== undefined) {
    await app.register(import('@fastify/cors'), {
      origin: config.corsOrigins,
      methods: ['GET'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: 600
    })
  }
  await app.register(cachePlugin, { tables: config.tables })
  await app.register(almaPlugin, {
    baseUrl: config.almaApiUrl,
    almaKey: config.almaKey,
    callTimeoutMs: config.almaCallTimeoutMs,
    retryBaseDelayMs: options.almaRetryBaseDelayMs
  })
  await app.register(userQueuePlugin, { queueUrl: config.userQueueUrl, endpointOverride: config.sqsEndpointOverride })
  await app.register(resolutionPlugin, { requestBudgetMs: config.requestBudgetMs })

  for (const plugin of options.plugins ?? []) await app.register(plugin)
  for (const name of options.routes ?? ROUTE_NAMES) await app.register(ROUTES[name])
  return app
}
