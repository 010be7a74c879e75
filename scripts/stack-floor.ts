// The chosen stack with none of the service in it: Fastify behind
// @fastify/aws-lambda, answering GET /users/:userID/loans/:loanID with the one
// DynamoDB read the service makes for it (user and loan in one BatchGetItem).
// npm run bench bundles it as dist/lambda.js is bundled and times its cold
// start beside the service's: what lies between the two is the service's own cost.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import awsLambdaFastify, { type LambdaResponse } from '@fastify/aws-lambda'
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import Fastify from 'fastify'
import { schemaCompilers } from '../src/schemas/compilers.js'

let proxy: Promise<(event: APIGatewayProxyEvent, context: Context) => Promise<LambdaResponse>> | undefined

async function start () {
  const users = process.env.USER_CACHE_TABLE_NAME as string
  const loans = process.env.LOAN_CACHE_TABLE_NAME as string
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}))
  const app = Fastify({ schemaController: { compilersFactory: schemaCompilers } })
  app.get<{ Params: { userID: string, loanID: string } }>('/users/:userID/loans/:loanID', async (request, reply) => {
    const { Responses } = await documents.send(new BatchGetCommand({
      RequestItems: { [users]: { Keys: [{ primary_id: request.params.userID }] }, [loans]: { Keys: [{ loan_id: request.params.loanID }] } }
    }))
    return reply.header('x-cache', 'hit').send(Responses?.[loans]?.[0])
  })
  const handler = awsLambdaFastify(app)
  await app.ready()
  return handler
}

export const getUserLoan = async (event: APIGatewayProxyEvent, context: Context) => (await (proxy ??= start()))(event, context)
