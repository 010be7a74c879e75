import { Type, type Static } from '@sinclair/typebox'
import { ITEM_ID_PATTERN, USER_ID_PATTERN } from '../resolution/identifiers.js'

// CONTRACT 2.2. The patterns live with the rules (identifiers.ts) so that IDs
// read from the cache are held to the same rule as IDs in the path.
const UserID = Type.String({
  pattern: USER_ID_PATTERN.source,
  description: '1 to 255 letters, digits and . _ - @ +, with at least one letter or digit',
  examples: ['jsmith01']
})
const ItemID = (description: string, example: string) => Type.String({
  pattern: ITEM_ID_PATTERN.source,
  description: `${description}: 1 to 64 letters, digits and . _ -, with at least one letter or digit`,
  examples: [example]
})

export const UserParams = Type.Object({ userID: UserID })
export const LoanParams = Type.Object({ userID: UserID, loanID: ItemID('Alma loan ID', '1234567890001') })
export const RequestParams = Type.Object({ userID: UserID, requestID: ItemID('Alma request ID', '9876543210001') })
export const FeeParams = Type.Object({ userID: UserID, feeID: ItemID('Alma fee ID', '5551234560001') })

export type UserParams = Static<typeof UserParams>
