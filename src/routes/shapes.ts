import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TObject } from '@sinclair/typebox'
import { resolveItem, resolveList } from '../resolution/resolve.js'
import type { Kind } from '../resolution/kinds.js'
import { errorResponses } from '../schemas/errors.js'
import { answerHeaders, X_CACHE } from '../schemas/headers.js'
import { UserParams } from '../schemas/params.js'

// The three list routes and the three item routes differ only by kind, so
// each file names its kind and these build it.

interface RouteShape {
  kind: Kind
  /** the item schema of CONTRACT 2.1 */
  record: TObject
  summary: string
  /** the handler name of CONTRACT 6, which names the operation in the API description */
  operationId: string
}

export function listRoute ({ kind, record, summary, operationId }: RouteShape): FastifyPluginAsyncTypebox {
  return async (fastify) => {
    fastify.get('/users/:userID/' + kind, {
      schema: {
        summary,
        operationId,
        tags: [kind],
        params: UserParams,
        response: { 200: Type.Array(record, { description: X_CACHE, headers: answerHeaders }), ...errorResponses() }
      }
    }, async (request, reply) => {
      const { value, cache } = await resolveList(request.resolution, request.params.userID, kind)
      reply.header('x-cache', cache)
      return value as never
    })
  }
}

export function itemRoute ({ kind, record, summary, operationId, params, itemParam }: RouteShape & { params: TObject, itemParam: string }): FastifyPluginAsyncTypebox {
  return async (fastify) => {
    fastify.get(`/users/:userID/${kind}/:${itemParam}`, {
      schema: {
        summary,
        operationId,
        tags: [kind],
        params,
        response: { 200: Type.Object(record.properties, { ...record, description: X_CACHE, headers: answerHeaders }), ...errorResponses({ kind, param: itemParam }) }
      }
    }, async (request, reply) => {
      const { userID, [itemParam]: itemID } = request.params as Record<string, string>
      const { value, cache } = await resolveItem(request.resolution, userID as string, kind, itemID as string)
      reply.header('x-cache', cache)
      return value as never
    })
  }
}
