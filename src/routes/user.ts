import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { resolveUser } from '../resolution/resolve.js'
import { errorResponses } from '../schemas/errors.js'
import { answerSchema } from '../schemas/headers.js'
import { UserParams } from '../schemas/params.js'
import { UserSummary } from '../schemas/records.js'
import { answer } from './shapes.js'

/** GET /users/{userID}: the user's loans, requests and fees (CONTRACT 2, 3.3). */
const userRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/users/:userID', {
    schema: {
      summary: "A user's active loans, requests and fees",
      operationId: 'getUser',
      tags: ['users'],
      params: UserParams,
      response: { 200: answerSchema(UserSummary), ...errorResponses() }
    }
  }, async (request, reply) => answer(reply, await resolveUser(request.resolution, request.params.userID)))
}

export default userRoute
