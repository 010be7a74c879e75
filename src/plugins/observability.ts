import { createHash, createHmac } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import { metricsRecord } from '../observability/metrics.js'
import { countingCalls, newRequestCalls, type RequestCalls } from '../observability/request-calls.js'
import { userCacheKey } from '../resolution/identifiers.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the round trips this request has made so far; null for what the router refused before any hook */
    calls: RequestCalls | null
  }
}

/**
 * A user ID in the logs is personal data: a pseudonym stands in for it, the same
 * for every request of the user (so that one user's requests can be followed)
 * but not the ID itself. Keyed (LOG_PSEUDONYM_KEY), it cannot be reversed by
 * hashing candidate IDs, which for student numbers takes seconds. IDs are
 * folded as the cache folds them: a refused "\u212Aate" is not kate.
 */
export const userPseudonym = (userID: string, key?: string): string =>
  (key === undefined ? createHash('sha256') : createHmac('sha256', key)).update(userCacheKey(userID)).digest('hex').slice(0, 16)

export interface ObservabilityOptions {
  /** where each request's metrics record (one EMF JSON line) goes; none when unset */
  writeMetrics?: (line: string) => void
  /** LOG_PSEUDONYM_KEY, for the user pseudonyms */
  pseudonymKey?: string
  /** METRICS_NAMESPACE */
  metricsNamespace: string
}

interface Answer {
  status: number
  /** X-Cache of a 200 */
  cache: string | undefined
  durationMs: number
}

/**
 * Logs a request's summary line and writes its metrics record, once it is answered:
 * from the onResponse hook, and for what the router refuses before any hook runs
 * (app.ts, `frameworkErrors`), where the request has no counters and no parameters,
 * and is refused at once (Fastify starts no clock for it: its duration reads 0).
 */
export function recordAnswer (request: FastifyRequest, reply: FastifyReply, options: ObservabilityOptions): void {
  const header = reply.getHeader('x-cache')
  logSummaryAndMetrics(request, { status: reply.statusCode, cache: header === undefined ? undefined : String(header), durationMs: reply.elapsedTime }, options)
}

/**
 * Requests answered as for no route although the router matched one: a path with
 * an empty segment (`/users/`), which names no identifier (plugins/http-contract.ts).
 */
const unrouted = new WeakSet<FastifyRequest>()

/** Marks a request answered as for no route: its summary and metrics then name neither a route nor a user. */
export function recordAsUnrouted (request: FastifyRequest): void {
  unrouted.add(request)
}

function logSummaryAndMetrics (request: FastifyRequest, { status, cache, durationMs }: Answer, { writeMetrics, pseudonymKey, metricsNamespace }: ObservabilityOptions): void {
  const routed = !unrouted.has(request)
  const { userID } = (routed ? request.params ?? {} : {}) as { userID?: unknown }
  const route = routed ? request.routeOptions.url : undefined
  const calls = request.calls ?? newRequestCalls()
  request.log.info({
    route: route ?? null,
    user: typeof userID === 'string' ? userPseudonym(userID, pseudonymKey) : null,
    status,
    cache: cache ?? null,
    dynamoCalls: calls.dynamo,
    almaCalls: calls.alma,
    // Summed: time waited on Alma, calls in parallel counted each.
    almaMs: Math.round(calls.almaCallMs.reduce((sum, ms) => sum + ms, 0)),
    queued: calls.queued,
    durationMs: Math.round(durationMs)
  }, 'request summary')
  // The record is a line of the same log: found by the request IDs, as the request's other lines are.
  const logFields = (request.log as Partial<Pick<Logger, 'bindings'>>).bindings?.()
  writeMetrics?.(JSON.stringify(metricsRecord({ route, status, cache, calls, durationMs, namespace: metricsNamespace, logFields })) + '\n')
}

/** nginx's status for a request whose client hung up before the answer: no HTTP status fits, and it is widely read. */
export const CLIENT_CLOSED_REQUEST = 499

/** The counters of each request; one summary log line and one metrics record when it is answered. */
export default fp<ObservabilityOptions>(async (fastify, options) => {
  fastify.decorateRequest('calls', null)

  const receivedAt = new WeakMap<FastifyRequest, number>()
  fastify.addHook('onRequest', (request, _reply, done) => {
    receivedAt.set(request, performance.now())
    const calls = newRequestCalls()
    calls.debug = (fields, message) => { request.log.debug(fields, message) }
    calls.info = (fields, message) => { request.log.info(fields, message) }
    request.calls = calls
    // Everything the request does from here on runs with its counters.
    countingCalls(calls, done)
  })

  fastify.addHook('onResponse', async (request, reply) => { recordAnswer(request, reply, options) })
  // A client that hangs up first (the local server; API Gateway waits for the Lambda)
  // gets no answer, and Fastify then runs no onResponse (so never both): recorded as it goes, with
  // the round trips made so far (the request's work goes on: a queue send still happens).
  fastify.addHook('onRequestAbort', async (request) => {
    /* c8 ignore next: Fastify listens for the abort only once onRequest has run */
    const durationMs = performance.now() - (receivedAt.get(request) ?? performance.now())
    logSummaryAndMetrics(request, { status: CLIENT_CLOSED_REQUEST, cache: undefined, durationMs }, options)
  })
}, { name: 'observability' })
