import fp from 'fastify-plugin'
import { AlmaClient, type AlmaClientOptions } from '../clients/alma.js'
import { almaKeyProvider, type AlmaKeySource } from '../clients/alma-key.js'
import type { AlmaReader } from '../resolution/ports.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Alma's Users API (CONTRACT 3.6) */
    alma: AlmaReader
  }
}

export interface AlmaPluginOptions extends Omit<AlmaClientOptions, 'apiKey'> {
  /** the key itself, or the SSM parameter holding it (read on the first Alma call) */
  almaKey: AlmaKeySource
}

export default fp<AlmaPluginOptions>(async (fastify, { almaKey, ...options }) => {
  // Once a process: which version of the key it holds, for a rotation to be followed in the logs.
  const apiKey = almaKeyProvider(almaKey, (read) => { fastify.log.info(read, 'Alma API key read from SSM') })
  const client = new AlmaClient({ ...options, apiKey })
  fastify.decorate('alma', client)
  fastify.addHook('onClose', () => client.close())
}, { name: 'alma' })
