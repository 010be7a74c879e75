import fp from 'fastify-plugin'
import type { ResolutionContext } from '../resolution/ports.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** what the rules of CONTRACT 3 need to answer this request */
    resolution: ResolutionContext
  }
}

export interface ResolutionPluginOptions {
  /** every Alma call of one request is over by then; keep it under the Lambda timeout and API Gateway's 29 s */
  requestBudgetMs: number
}

export default fp<ResolutionPluginOptions>(async (fastify, options) => {
  const { cache, alma, userQueue } = fastify
  fastify.decorateRequest('resolution', null as unknown as ResolutionContext)
  // Made once per request, when it arrives: the deadline counts from then.
  fastify.addHook('onRequest', async (request) => {
    request.resolution = {
      cache,
      alma,
      queue: userQueue,
      log: request.log,
      now: () => Math.floor(Date.now() / 1000),
      deadline: Date.now() + options.requestBudgetMs
    }
  })
}, { name: 'resolution', dependencies: ['cache', 'alma', 'user-queue'] })
