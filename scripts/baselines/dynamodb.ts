// The DynamoDB client alone: the single-loan read answered straight from the
// Lambda handler, no HTTP framework. The other part of the bare stack (stack.ts).
import type { APIGatewayProxyEvent } from 'aws-lambda'
import { readLoan } from './cache-read.js'

export async function getUserLoan (event: APIGatewayProxyEvent) {
  const { userID, loanID } = event.pathParameters as { userID: string, loanID: string }
  return { statusCode: 200, headers: { 'x-cache': 'hit' }, body: JSON.stringify(await readLoan(userID, loanID)) }
}
