// Fastify behind @fastify/aws-lambda alone: the single-loan route answered with
// a constant, no DynamoDB. One of the two parts of the bare stack (stack.ts).
import { makeFastifyHandler } from './fastify-app.js'

export const getUserLoan = makeFastifyHandler(async (_userID, loanID) => ({ loan_id: loanID }))
