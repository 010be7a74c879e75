import fp from 'fastify-plugin'
import { AlmaClient, type AlmaClientOptions } from '../clients/alma.js'
import type { AlmaReader } from '../resolution/ports.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Alma's Users API (CONTRACT 3.6) */
    alma: AlmaReader
  }
}

export default fp<AlmaClientOptions>(async (fastify, options) => {
  const client = new AlmaClient(options)
  fastify.decorate('alma', client)
  fastify.addHook('onClose', () => client.close())
}, { name: 'alma' })
