import fp from 'fastify-plugin'
import { DynamoCache, type DynamoCacheOptions } from '../clients/dynamo-cache.js'
import type { CacheReader } from '../resolution/ports.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the four cache tables of CONTRACT 4, read-only */
    cache: CacheReader
  }
}

export default fp<DynamoCacheOptions>(async (fastify, options) => {
  const cache = new DynamoCache(options)
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async () => cache.destroy())
}, { name: 'cache' })
