import { Type } from '@sinclair/typebox'
import { ITEM_ID_MAX_LENGTH, ITEM_ID_PATTERN, ITEM_ID_RULE, USER_ID_MAX_LENGTH, USER_ID_PATTERN, USER_ID_RULE } from '../resolution/identifiers.js'
import type { Kind } from '../resolution/kinds.js'

// CONTRACT 2.2. The patterns live with the rules (identifiers.ts) so that IDs
// read from the cache are held to the same rule as IDs in the path.
export const EXAMPLE_USER_ID = 'jsmith01'
const UserID = Type.String({
  minLength: 1,
  maxLength: USER_ID_MAX_LENGTH,
  pattern: USER_ID_PATTERN.source,
  description: USER_ID_RULE,
  examples: [EXAMPLE_USER_ID]
})
const ItemID = (description: string, example: string) => Type.String({
  minLength: 1,
  maxLength: ITEM_ID_MAX_LENGTH,
  pattern: ITEM_ID_PATTERN.source,
  description: `${description}: ${ITEM_ID_RULE}`,
  examples: [example]
})

export const EXAMPLE_ITEM_IDS: Readonly<Record<Kind, string>> = { loans: '1234567890001', requests: '9876543210001', fees: '5551234560001' }

export const UserParams = Type.Object({ userID: UserID })

/** An item route's parameters: the user's ID and the item's, named for its kind (loanID, requestID, feeID). */
const itemParams = (name: string, description: string, kind: Kind) =>
  ({ name, schema: Type.Object({ userID: UserID, [name]: ItemID(description, EXAMPLE_ITEM_IDS[kind]) }) })

export const ITEM_PARAMS = {
  loans: itemParams('loanID', 'Alma loan ID', 'loans'),
  requests: itemParams('requestID', 'Alma request ID', 'requests'),
  fees: itemParams('feeID', 'Alma fee ID', 'fees')
} as const satisfies Record<Kind, unknown>
