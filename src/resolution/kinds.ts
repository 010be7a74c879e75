import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Fee, Loan, Request } from '../schemas/records.js'
import type { CacheTable } from './ports.js'

export type Kind = 'loans' | 'requests' | 'fees'
export const KINDS: readonly Kind[] = ['loans', 'requests', 'fees']

/** A JSON object: what a record, a cache row or an Alma body must be before its fields are read. */
export type JsonObject = Record<string, unknown>

/** A loan, request or fee: Alma's record, or the contract's record made of its fields (CONTRACT 2.1). */
export type AlmaRecord = JsonObject

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The users table's key attribute (CONTRACT 4): the user ID, lowercased. */
export const USER_KEY_FIELD = 'primary_id'
/** The users row's validity number (unix seconds; CONTRACT 3.1). */
export const USER_VALIDITY_FIELD = 'expiry_date'

/** Alma's largest `limit` on the paged list calls (alma-api.md). */
export const ALMA_MAX_PAGE_SIZE = 100

// Everything that differs between loans, requests and fees, in one table, so
// that the rules of CONTRACT 3 are written once for all three kinds.
export interface KindSpec {
  /** one record of the kind, as messages name it */
  singular: string
  /** item ID field, in the cache key and in Alma's records (CONTRACT 4) */
  idField: string
  /** attribute of the users row listing this kind's IDs */
  userIdsField: string
  /** owner of a cached row (CONTRACT 4), compared with the user ID case-insensitively (3.2) */
  ownerOf: (row: JsonObject) => unknown
  /** cache validity number (unix seconds) */
  validityField: string
  /** key of the records array in Alma's list body */
  almaListField: string
  /** Alma pages this list (loans, requests) or sends it whole (fees) */
  almaPaged: boolean
  /** asked of Alma's list calls beside the paging */
  almaListQuery?: Readonly<Record<string, string>>
  /** fields Alma's list calls give and its item calls cannot (they take no parameters) */
  almaListOnlyFields?: readonly string[]
  /**
   * not active in Alma (a returned loan; a paid, waived or disputed fee): Alma's
   * lists, which hold the active ones only, leave it out, and so do the service's,
   * whatever the record's source; its item calls still find it
   */
  inactiveInAlma?: (record: AlmaRecord) => boolean
  /** the CONTRACT 2.1 fields, in order */
  fields: readonly string[]
  /** true when the record's fields have the JSON types the contract expects */
  hasExpectedTypes: (record: unknown) => boolean
  /** Alma's JSON names some fields differently from the record (see alma-api.md) */
  almaFieldNames?: Readonly<Record<string, string>>
}

// DynamoDB's sets and binaries come out of the document client as Set and
// Uint8Array: objects a free-form field's schema admits, yet not JSON (a Set
// would reach the caller as {}). A row holding one is of an unexpected type too.
const isJson = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.every(isJson)
  if (typeof value === 'object' && value !== null) return Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every(isJson)
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

/**
 * A code field, plain (`"ACTIVE"`) or as Alma's `{ value, desc }`, holding a code
 * other than `code`, in any case. A field with no code says nothing: false.
 */
const holdsOtherCode = (field: unknown, code: string): boolean => {
  const value = isJsonObject(field) ? field.value : field
  return typeof value === 'string' && value.toUpperCase() !== code
}

// Compiled on first use: a Lambda serving loans never compiles the fee checker.
const checkerOf = (schema: typeof Loan | typeof Request | typeof Fee) => {
  let checker: ReturnType<typeof TypeCompiler.Compile> | undefined
  return (record: unknown) => (checker ??= TypeCompiler.Compile(schema)).Check(record) && isJson(record)
}

export const KIND_SPECS: Readonly<Record<Kind, KindSpec>> = {
  loans: {
    singular: 'loan',
    idField: 'loan_id',
    userIdsField: 'loan_ids',
    ownerOf: (row) => row.user_id,
    validityField: 'expiry_date',
    almaListField: 'item_loan',
    almaPaged: true,
    // Alma works out a loan's `renewable` only when asked (the Users API's expand=renewable);
    // the cache's loans have it.
    almaListQuery: { expand: 'renewable' },
    almaListOnlyFields: ['renewable'],
    // Alma's loan lists hold loan_status Active unless asked otherwise (alma-api.md).
    inactiveInAlma: (loan) => holdsOtherCode(loan.loan_status, 'ACTIVE'),
    fields: Object.keys(Loan.properties),
    hasExpectedTypes: checkerOf(Loan)
  },
  requests: {
    singular: 'request',
    idField: 'request_id',
    userIdsField: 'request_ids',
    ownerOf: (row) => row.user_primary_id,
    // A request's expiry_date is Alma's own date string; the cache's number is apart.
    validityField: 'record_expiry_date',
    almaListField: 'user_request',
    almaPaged: true,
    fields: Object.keys(Request.properties),
    hasExpectedTypes: checkerOf(Request)
  },
  fees: {
    singular: 'fee',
    idField: 'id',
    userIdsField: 'fee_ids',
    ownerOf: (row) => {
      const owner = row.user_primary_id
      return isJsonObject(owner) ? owner.value : undefined
    },
    validityField: 'expiry_date',
    almaListField: 'fee',
    almaPaged: false,
    // Alma's fee list holds status ACTIVE unless asked otherwise (alma-api.md).
    inactiveInAlma: (fee) => holdsOtherCode(fee.status, 'ACTIVE'),
    fields: Object.keys(Fee.properties),
    hasExpectedTypes: checkerOf(Fee),
    // Alma's JSON drops the XML wrapper: transactions arrive as `transaction`.
    almaFieldNames: { transactions: 'transaction' }
  }
}

/** The key attribute of each cache table (CONTRACT 4). */
export const CACHE_KEY_FIELDS: Readonly<Record<CacheTable, string>> = {
  users: USER_KEY_FIELD,
  loans: KIND_SPECS.loans.idField,
  requests: KIND_SPECS.requests.idField,
  fees: KIND_SPECS.fees.idField
}
