import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import { countingCalls, newRequestCalls, type RequestCalls } from '../observability/request-calls.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the round trips this request has made so far */
    calls: RequestCalls
  }
}

/**
 * A user ID in the logs is personal data: a pseudonym stands in for it, the same
 * for every request of the user (so that one user's requests can be followed)
 * but not the ID itself.
 */
export const userPseudonym = (userID: string): string =>
  createHash('sha256').update(userID.toLowerCase()).digest('hex').slice(0, 16)

/** The counters of each request, and one summary log line when it is answered. */
export default fp(async (fastify) => {
  fastify.decorateRequest('calls', null as unknown as RequestCalls)

  fastify.addHook('onRequest', (request, _reply, done) => {
    request.calls = newRequestCalls()
    // Everything the request does from here on runs with its counters.
    countingCalls(request.calls, done)
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const { userID } = request.params as { userID?: unknown }
    const cache = reply.getHeader('x-cache')
    request.log.info({
      route: request.routeOptions.url ?? null,
      user: typeof userID === 'string' ? userPseudonym(userID) : null,
      status: reply.statusCode,
      cache: cache === undefined ? null : String(cache),
      dynamoCalls: request.calls.dynamo,
      almaCalls: request.calls.alma,
      almaMs: Math.round(request.calls.almaMs),
      queued: request.calls.queued,
      durationMs: Math.round(reply.elapsedTime)
    }, 'request summary')
  })
}, { name: 'observability' })
