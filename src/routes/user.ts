import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { resolveUser } from '../resolution/resolve.js'
import { errorResponses } from '../schemas/errors.js'
import { answerHeaders, X_CACHE } from '../schemas/headers.js'
import { UserParams } from '../schemas/params.js'
import { UserSummary } from '../schemas/records.js'

/** GET /users/{userID}: the user's loans, requests and fees (CONTRACT 2, 3.3). */
const userRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/users/:userID', {
    schema: {
      summary: "A user's active loans, requests and fees",
      operationId: 'getUser',
      tags: ['users'],
      params: UserParams,
      response: { 200: Type.Object(UserSummary.properties, { ...UserSummary, description: X_CACHE, headers: answerHeaders }), ...errorResponses() }
    }
  }, async (request, reply) => {
    const { value, cache } = await resolveUser(request.resolution, request.params.userID)
    reply.header('x-cache', cache)
    return value as never
  })
}

export default userRoute
