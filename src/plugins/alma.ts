import fp from 'fastify-plugin'
import { AlmaClient, type AlmaClientOptions } from '../clients/alma.js'
import { almaKeyProvider, type AlmaKeySource } from '../clients/alma-key.js'
import type { AlmaReader } from '../resolution/ports.js'
import { requestCalls } from '../observability/request-calls.js'

const KEY_READ_MESSAGE = 'Alma API key read from SSM'

declare module 'fastify' {
  interface FastifyInstance {
    /** Alma's Users API (CONTRACT 3.6) */
    alma: AlmaReader
  }
}

export interface AlmaPluginOptions extends Omit<AlmaClientOptions, 'readApiKey'> {
  /** the key itself, or the SSM parameter holding it (read on the first Alma call) */
  almaKey: AlmaKeySource
}

export default fp<AlmaPluginOptions>(async (fastify, { almaKey, ...options }) => {
  // Once a process: which version of the key it holds, for a rotation to be followed in the logs.
  // Read on a request's Alma call, and logged as that request's line (in Lambda, with both request IDs).
  const readApiKey = almaKeyProvider(almaKey, (read) => {
    const calls = requestCalls()
    /* c8 ignore next: the key is asked for by Alma calls, which requests make */
    if (calls?.info === undefined) return fastify.log.info(read, KEY_READ_MESSAGE)
    calls.info({ ...read }, KEY_READ_MESSAGE)
  })
  const client = new AlmaClient({ ...options, readApiKey })
  fastify.decorate('alma', client)
  fastify.addHook('onClose', () => client.close())
}, { name: 'alma' })
