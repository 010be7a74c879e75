import awsLambdaFastify, { type LambdaResponse } from '@fastify/aws-lambda'
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import Fastify from 'fastify'
import { schemaCompilers } from '../../src/schemas/compilers.js'

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<LambdaResponse>

/** Fastify behind @fastify/aws-lambda with the single-loan route, answered by `loan`; built on the first event. */
export function makeFastifyHandler (loan: (userID: string, loanID: string) => Promise<unknown>): Handler {
  let proxy: Promise<Handler> | undefined
  const start = async () => {
    const app = Fastify({ schemaController: { compilersFactory: schemaCompilers } })
    app.get<{ Params: { userID: string, loanID: string } }>('/users/:userID/loans/:loanID', async (request, reply) =>
      reply.header('x-cache', 'hit').send(await loan(request.params.userID, request.params.loanID)))
    const handler = awsLambdaFastify(app)
    await app.ready()
    return handler
  }
  return async (event, context) => (await (proxy ??= start()))(event, context)
}
