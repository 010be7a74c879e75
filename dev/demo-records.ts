import { createHash } from 'node:crypto'
import type { AlmaRecord } from '../src/resolution/kinds.js'

// Records shaped as Alma sends them (alma-api.md, "Record shapes seen in the
// wild"), and the cache rows the webhook writer and bulk updater make of them
// (CONTRACT 4). Shared by the demo seed, the tests and the benchmark.

// Cache validity numbers are unix seconds (CONTRACT 3.1).
export const DAY = 24 * 60 * 60
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

const pad = (n: number) => String(n).padStart(4, '0')
// Eight digits from a hash of the user ID: different users never share item IDs
// (a sum of character codes did, for load-hit-01 and load-hit-10).
const idOf = (userID: string, prefix: string, n: number) =>
  `${prefix}${String(parseInt(createHash('sha256').update(userID).digest('hex').slice(0, 12), 16) % 1e8).padStart(8, '0')}${pad(n)}`

export function almaLoan (userID: string, n: number): AlmaRecord {
  return {
    loan_id: idOf(userID, '23', n),
    renewable: n % 3 !== 0,
    call_number: `QA76.${n} .D${n % 10}`,
    loan_status: 'ACTIVE',
    due_date: `2026-12-${String((n % 28) + 1).padStart(2, '0')}T23:59:00Z`,
    item_barcode: `3900${pad(n)}`,
    mms_id: `99${pad(n)}0101`,
    title: `Collected works, volume ${n}`,
    author: n % 4 === 0 ? null : 'Lovelace, Ada',
    description: n % 2 === 0 ? null : `v.${n}`,
    publication_year: String(1900 + n),
    process_status: 'NORMAL'
  }
}

export function almaRequest (userID: string, n: number): AlmaRecord {
  return {
    request_id: idOf(userID, '14', n),
    user_primary_id: userID,
    request_type: 'HOLD',
    request_sub_type: { value: 'PATRON_PHYSICAL', desc: 'Patron physical item request' },
    request_status: n % 2 === 0 ? 'ON_HOLD_SHELF' : 'NOT_STARTED',
    pickup_location: 'Main Library',
    pickup_location_type: 'LIBRARY',
    pickup_location_library: 'MAIN',
    material_type: { value: 'BOOK', desc: 'Book' },
    comment: null,
    place_in_queue: n,
    request_date: '2026-11-01Z',
    expiry_date: '2027-01-31Z',
    barcode: `3911${pad(n)}`,
    mms_id: `99${pad(n)}0202`,
    title: `On computable numbers, part ${n}`,
    author: 'Turing, Alan',
    description: null,
    resource_sharing: { id: null },
    process_status: 'NORMAL'
  }
}

export function almaFee (userID: string, n: number): AlmaRecord {
  return {
    id: idOf(userID, '35', n),
    user_primary_id: { value: userID, link: `/almaws/v1/users/${userID}` },
    type: { value: 'OVERDUEFINE', desc: 'Overdue fine' },
    status: { value: 'ACTIVE', desc: 'Active' },
    balance: 1.5 * n,
    remaining_vat_amount: 0,
    original_amount: 2 * n,
    original_vat_amount: 0,
    // Older fee records carry epoch milliseconds.
    creation_time: n % 2 === 0 ? 1730419200000 : '2026-10-01T10:00:00Z',
    comment: null,
    owner: { value: 'MAIN', desc: 'Main Library' },
    title: `Overdue: volume ${n}`,
    barcode: { value: `3900${pad(n)}` },
    bursar_transaction_id: null,
    transaction: [{ type: { value: 'PAYMENT', desc: 'Payment' }, amount: 0.5, created_by: 'System' }]
  }
}

export interface AlmaUserRecords {
  loans: AlmaRecord[]
  requests: AlmaRecord[]
  fees: AlmaRecord[]
}

export function almaUserRecords (userID: string, counts: { loans: number, requests: number, fees: number }): AlmaUserRecords {
  const range = (count: number) => Array.from({ length: count }, (_, i) => i + 1)
  return {
    loans: range(counts.loans).map((n) => almaLoan(userID, n)),
    requests: range(counts.requests).map((n) => almaRequest(userID, n)),
    fees: range(counts.fees).map((n) => almaFee(userID, n))
  }
}

export interface CacheRowSet {
  user: AlmaRecord
  loans: AlmaRecord[]
  requests: AlmaRecord[]
  fees: AlmaRecord[]
}

/** The rows the other services write for a user, all valid until `validUntil` (unix seconds). */
export function cacheRowsOf (userID: string, records: AlmaUserRecords, validUntil: number): CacheRowSet {
  const owner = userID.toLowerCase()
  return {
    user: {
      primary_id: owner,
      expiry_date: validUntil,
      loan_ids: records.loans.map((loan) => loan.loan_id),
      request_ids: records.requests.map((request) => request.request_id),
      fee_ids: records.fees.map((fee) => fee.id)
    },
    loans: records.loans.map((loan) => ({ ...loan, user_id: owner, expiry_date: validUntil })),
    requests: records.requests.map((request) => ({ ...request, user_primary_id: owner, record_expiry_date: validUntil })),
    fees: records.fees.map(({ transaction, ...fee }) => ({
      ...fee,
      transactions: transaction,
      user_primary_id: { ...(fee.user_primary_id as AlmaRecord), value: owner },
      expiry_date: validUntil
    }))
  }
}
