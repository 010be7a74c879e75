import fp from 'fastify-plugin'
import { SqsUserQueue, type SqsUserQueueOptions } from '../clients/user-queue.js'
import type { UserQueue } from '../resolution/ports.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the users queue: users to refresh in the cache (CONTRACT 3.5) */
    userQueue: UserQueue
  }
}

export default fp<SqsUserQueueOptions>(async (fastify, options) => {
  const queue = new SqsUserQueue(options)
  fastify.decorate('userQueue', queue)
  fastify.addHook('onClose', async () => queue.destroy())
}, { name: 'user-queue' })
