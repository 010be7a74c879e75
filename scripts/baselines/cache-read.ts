import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'

// The one DynamoDB read the service makes for a single loan: the user's row and
// the loan's in one BatchGetItem, with the SDK's document client.

let documents: DynamoDBDocumentClient | undefined

export async function readLoan (userID: string, loanID: string): Promise<unknown> {
  documents ??= DynamoDBDocumentClient.from(new DynamoDBClient({}))
  const users = process.env.USER_CACHE_TABLE_NAME as string
  const loans = process.env.LOAN_CACHE_TABLE_NAME as string
  const { Responses } = await documents.send(new BatchGetCommand({
    RequestItems: { [users]: { Keys: [{ primary_id: userID }] }, [loans]: { Keys: [{ loan_id: loanID }] } }
  }))
  return Responses?.[loans]?.[0]
}
