import { Type, type Static, type TOptional, type TSchema } from '@sinclair/typebox'

// The record shapes of CONTRACT 2.1. Each field lists the JSON types Alma is
// known to send for it; the same schemas describe the 200 bodies and decide
// whether a cached row is usable (a row with a field of another type is a
// cache miss, CONTRACT 4). Serialisation never coerces through them: see compilers.ts.

const text = (description: string) => Type.Union([Type.String(), Type.Null()], { description })
// Alma leaves a code's description null as often as it leaves it out (alma-api.md).
const code = (description: string) =>
  Type.Union([Type.Object({ value: Type.Optional(text('the code')), desc: Type.Optional(text('what the code means')) }), Type.String(), Type.Null()], { description })
const amount = (description: string) => Type.Union([Type.Number(), Type.Null()], { description })
const date = (description: string) => Type.Union([Type.String(), Type.Null()], { description })
// alma-api.md: some older fee records carry epoch milliseconds, where the others have ISO strings.
const dateOrEpochMs = (description: string) => Type.Union([Type.String(), Type.Number(), Type.Null()], { description })
// Fields whose shape Alma varies across versions and institutions: any JSON value.
const anyJson = (description: string) => Type.Unknown({ description })

const optional = <T extends Record<string, TSchema>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([name, schema]) => [name, Type.Optional(schema)])) as {
    [K in keyof T]: TOptional<T[K]>
  }

export const Loan = Type.Object({
  loan_id: Type.String({ description: 'Alma loan ID' }),
  ...optional({
    renewable: Type.Union([Type.Boolean(), Type.Null()], { description: 'whether the loan can be renewed. Alma gives it only in its lists of loans, so it is absent from a loan fetched by its own Alma call: the one-loan endpoint answering from Alma, or a few loans of a long list (over 100) filled in one by one' }),
    call_number: text('call number of the item'),
    loan_status: text('ACTIVE, or another Alma loan status'),
    due_date: date('due date, ISO 8601'),
    item_barcode: text('barcode of the loaned item'),
    mms_id: text('bibliographic record ID'),
    title: text('title'),
    author: text('author'),
    description: text('item description (volume, issue)'),
    publication_year: text('publication year'),
    process_status: text('NORMAL, LOST, CLAIMED_RETURNED, ...')
  })
}, { title: 'Loan' })

// The record is served as the cache has it. CONTRACT 4 has the requests table hold the owner
// lowercased; of the fees table's owner (user_primary_id.value) it says no case.
const REQUESTER_CASE = 'as Alma has it, but lowercased when the record comes from the cache, which keeps it so: compare it case-insensitively'
const FEE_OWNER_CASE = 'as Alma has it, or as the cache holds it when the record comes from there, in a case that need not be Alma\'s: compare it case-insensitively'

export const Request = Type.Object({
  request_id: Type.String({ description: 'Alma request ID' }),
  ...optional({
    user_primary_id: text(`primary ID of the requester, ${REQUESTER_CASE}`),
    request_type: text('HOLD, DIGITIZATION, BOOKING, ...'),
    request_sub_type: code('request sub-type code'),
    request_status: text('NOT_STARTED, IN_PROCESS, ON_HOLD_SHELF, ...'),
    pickup_location: text('pickup location name'),
    pickup_location_type: text('LIBRARY, CIRCULATION_DESK, ...'),
    pickup_location_library: text('pickup library code'),
    material_type: code('material type code'),
    comment: text('comment'),
    place_in_queue: amount('place in the hold queue'),
    request_date: date('date of the request'),
    expiry_date: date('date the request expires (Alma field, not a cache number)'),
    barcode: text('item barcode'),
    mms_id: text('bibliographic record ID'),
    title: text('title'),
    author: text('author'),
    description: text('item description'),
    resource_sharing: anyJson('resource sharing details'),
    process_status: anyJson('process status')
  })
}, { title: 'Request' })

export const Fee = Type.Object({
  id: Type.String({ description: 'Alma fee ID' }),
  ...optional({
    user_primary_id: Type.Union([Type.Object({ value: Type.String(), link: Type.Optional(text('the user in the Users API')) }), Type.String(), Type.Null()], { description: `the fee owner: its value ${FEE_OWNER_CASE}` }),
    type: code('fee type code'),
    status: code('fee status code'),
    balance: amount('amount still owed'),
    remaining_vat_amount: amount('VAT still owed'),
    original_amount: amount('amount when the fee was created'),
    original_vat_amount: amount('VAT when the fee was created'),
    creation_time: dateOrEpochMs('creation time: ISO 8601, or epoch milliseconds on older records'),
    comment: text('comment'),
    owner: code('owning library or desk'),
    title: text('title of the related item'),
    barcode: anyJson('barcode of the related item'),
    bursar_transaction_id: text('bursar transaction ID'),
    transactions: anyJson('payments, waivers and other transactions on the fee')
  })
}, { title: 'Fee' })

export type Loan = Static<typeof Loan>
export type Request = Static<typeof Request>
export type Fee = Static<typeof Fee>

export const UserSummary = Type.Object({
  primary_id: Type.String({ description: 'the user ID exactly as the caller wrote it' }),
  loans: Type.Array(Loan),
  requests: Type.Array(Request),
  fees: Type.Array(Fee)
}, { title: 'UserSummary' })
