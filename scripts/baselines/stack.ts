// The chosen stack with none of the service in it: Fastify behind
// @fastify/aws-lambda, answering GET /users/:userID/loans/:loanID with the one
// DynamoDB read the service makes for it. npm run bench bundles the baselines
// as dist/lambda.js is bundled and times their cold starts beside the
// service's: what lies between this one and the service is the service's own cost.
import { makeFastifyHandler } from './fastify-app.js'
import { readLoan } from './cache-read.js'

export const getUserLoan = makeFastifyHandler(readLoan)
