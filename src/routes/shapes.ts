import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type, type TObject } from '@sinclair/typebox'
import { resolveItem, resolveList } from '../resolution/resolve.js'
import type { Kind } from '../resolution/kinds.js'
import type { Resolved } from '../resolution/ports.js'
import { errorResponses } from '../schemas/errors.js'
import { answerSchema } from '../schemas/headers.js'
import { ITEM_PARAMS, UserParams } from '../schemas/params.js'

// The three list routes and the three item routes differ only by kind, so
// each file names its kind and these build it.

/**
 * A resolved request's answer: its X-Cache header (CONTRACT 2.3), and its value as
 * the 200's body. The records are Alma's fields, checked and shaped by the rules
 * (resolution/records.ts), which type them loosely.
 */
export function answer (reply: FastifyReply, { value, cache }: Resolved<unknown>): never {
  reply.header('x-cache', cache)
  return value as never
}

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
        response: { 200: answerSchema(Type.Array(record)), ...errorResponses() }
      }
    }, async (request, reply) => answer(reply, await resolveList(request.resolution, request.params.userID, kind)))
  }
}

export function itemRoute ({ kind, record, summary, operationId }: RouteShape): FastifyPluginAsyncTypebox {
  const { name: itemParam, schema: params } = ITEM_PARAMS[kind]
  return async (fastify) => {
    fastify.get(`/users/:userID/${kind}/:${itemParam}`, {
      schema: {
        summary,
        operationId,
        tags: [kind],
        params,
        response: { 200: answerSchema(record), ...errorResponses({ kind, param: itemParam }) }
      }
    }, async (request, reply) => {
      const { userID, [itemParam]: itemID } = request.params as Record<string, string>
      return answer(reply, await resolveItem(request.resolution, userID as string, kind, itemID as string))
    })
  }
}
