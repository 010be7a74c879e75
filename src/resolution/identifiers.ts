// CONTRACT 2.2. At least one letter or digit: `.` and `..` survive
// percent-encoding and would walk up Alma's URL tree. The patterns are in the
// API description, where clients generated from it check IDs with them: so no
// lookaround (RE2, the regex engine of Go and Rust, has none, and code generators
// built on it refuse such a pattern), and the length apart, as a maximum length.
// The first letter or digit is the first character not from the other few, so
// matching never backtracks.
export const USER_ID_PATTERN = /^[._@+-]*[A-Za-z0-9][A-Za-z0-9._@+-]*$/
export const USER_ID_MAX_LENGTH = 255
export const ITEM_ID_PATTERN = /^[._-]*[A-Za-z0-9][A-Za-z0-9._-]*$/
export const ITEM_ID_MAX_LENGTH = 64

export const USER_ID_RULE = '1 to 255 letters, digits and . _ - @ +, with at least one letter or digit'
export const ITEM_ID_RULE = '1 to 64 letters, digits and . _ -, with at least one letter or digit'

/** The 400 message for a path parameter that breaks its rule. */
export const invalidIDMessage = (field: string): string =>
  `Invalid ${field}: must be ${field === 'userID' ? USER_ID_RULE : ITEM_ID_RULE}`

/**
 * The 400 for a path refused before its parameters are read: an ID over the
 * router's 512 characters (app.ts), or percent-encoding that does not decode.
 */
export const MALFORMED_PATH_MESSAGE = `Malformed path: a user ID is ${USER_ID_RULE}; a loan, request or fee ID ${ITEM_ID_RULE}; either percent-encoded`

export const isItemID = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= ITEM_ID_MAX_LENGTH && ITEM_ID_PATTERN.test(value)

// CONTRACT 3.1 and 4: cache keys and owner attributes are lowercased IDs.
// IDs are ASCII (2.2), so only A to Z are folded: toLowerCase would also fold
// the Kelvin sign (U+212A) into k, and a row owned by "\u212Aate" would pass for kate's.
export const userCacheKey = (userID: string): string => userID.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
