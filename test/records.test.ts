import t from 'tap'
import { almaFee, almaLoan, almaRequest, almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { KIND_SPECS } from '../src/resolution/kinds.js'
import { readCachedItem, readCachedUser, toRecord } from '../src/resolution/records.js'

const NOW = 1_800_000_000

t.test('each kind carries exactly the fields of CONTRACT 2.1, in its order', async (t) => {
  // Copied from the contract: a field dropped from a schema would vanish from every answer.
  const CONTRACT_FIELDS = {
    loans: 'loan_id, renewable, call_number, loan_status, due_date, item_barcode, mms_id, title, author, description, publication_year, process_status',
    requests: 'request_id, user_primary_id, request_type, request_sub_type, request_status, pickup_location, pickup_location_type, ' +
      'pickup_location_library, material_type, comment, place_in_queue, request_date, expiry_date, barcode, mms_id, title, author, description, ' +
      'resource_sharing, process_status',
    fees: 'id, user_primary_id, type, status, balance, remaining_vat_amount, original_amount, original_vat_amount, creation_time, comment, owner, ' +
      'title, barcode, bursar_transaction_id, transactions'
  }
  for (const [kind, fields] of Object.entries(CONTRACT_FIELDS) as Array<[keyof typeof CONTRACT_FIELDS, string]>) {
    t.same(KIND_SPECS[kind].fields, fields.split(', '), kind)
    const everyField = Object.fromEntries(fields.split(', ').map((field) => [field, null]))
    t.same(Object.keys(toRecord(KIND_SPECS[kind], everyField)), fields.split(', '), `${kind}: each one kept`)
  }
})

t.test('toRecord keeps exactly the contract fields, values untouched', async (t) => {
  const loan = { ...almaLoan('u1', 4), user_id: 'u1', expiry_date: NOW, extra: 'x' }
  const record = toRecord(KIND_SPECS.loans, loan)
  t.same(Object.keys(record), KIND_SPECS.loans.fields.filter((field) => field in loan))
  t.equal(record.author, null, 'null stays null')
  t.equal(record.renewable, true)
  t.notOk('user_id' in record, 'cache-only attributes never appear')
  t.notOk('expiry_date' in record)
  t.notOk('extra' in record)

  const sparse = toRecord(KIND_SPECS.loans, { loan_id: '1', title: 'only' })
  t.same(sparse, { loan_id: '1', title: 'only' }, 'missing fields are left out, not defaulted')
  // t.same takes an undefined property for an absent one: the keys themselves, so that none is there as undefined.
  t.same(Object.keys(toRecord(KIND_SPECS.fees, { id: '1', title: 'only' })), ['id', 'title'], 'a fee without transactions, under either name, has none')
})

t.test("a fee's Alma `transaction` is the record's `transactions`", async (t) => {
  const fee = almaFee('u1', 2)
  const record = toRecord(KIND_SPECS.fees, fee)
  t.same(record.transactions, fee.transaction)
  t.notOk('transaction' in record)
  t.equal(record.creation_time, 1730419200000, 'epoch milliseconds stay a number')
})

t.test('cached rows and Alma records give the same record', async (t) => {
  const records = almaUserRecords('same-user', { loans: 2, requests: 2, fees: 2 })
  const rows = cacheRowsOf('same-user', records, NOW + 10)
  for (const kind of ['loans', 'requests', 'fees'] as const) {
    rows[kind].forEach((row, i) => {
      const cached = readCachedItem(KIND_SPECS[kind], row, 'same-user', NOW)
      t.strictSame(cached?.record, toRecord(KIND_SPECS[kind], records[kind][i] as Record<string, unknown>), `${kind} ${i}`)
    })
  }
})

t.test('readCachedItem: ownership, validity and types', async (t) => {
  const [row] = cacheRowsOf('Owner', { loans: [almaLoan('owner', 1)], requests: [], fees: [] }, NOW).loans
  t.same(readCachedItem(KIND_SPECS.loans, row, 'OWNER', NOW)?.valid, true, 'owner compared case-insensitively; expiry equal to now is valid')
  t.same(readCachedItem(KIND_SPECS.loans, row, 'owner', NOW + 1)?.valid, false, 'expired copy kept as stale-able')
  t.equal(readCachedItem(KIND_SPECS.loans, row, 'someone-else', NOW), undefined, 'another user never sees it')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, user_id: '\u212Aate' }, 'kate', NOW), undefined, 'nor an owner that only Unicode folds into this user (the Kelvin sign is no k)')
  t.equal(readCachedItem(KIND_SPECS.loans, undefined, 'owner', NOW), undefined)
  t.equal(readCachedItem(KIND_SPECS.loans, 'text', 'owner', NOW), undefined)
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, expiry_date: String(NOW) }, 'owner', NOW), undefined, 'validity of the wrong type')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, renewable: 'yes' }, 'owner', NOW), undefined, 'field of the wrong type')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, loan_id: undefined }, 'owner', NOW), undefined, 'missing key attribute')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, user_id: undefined }, 'owner', NOW), undefined, 'missing owner')
  // A loan's owner is its user_id (CONTRACT 4), whatever else the row holds.
  t.ok(readCachedItem(KIND_SPECS.loans, { ...row, user_primary_id: 'someone-else' }, 'owner', NOW), "a loan's user_primary_id does not make it another's")
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, user_primary_id: 'someone-else' }, 'someone-else', NOW), undefined, 'nor give it to them')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, expiry_date: NaN }, 'owner', NOW), undefined, 'a validity that is no number: a miss, not an expired copy')

  const request = { ...almaRequest('owner', 1), user_primary_id: 'owner', record_expiry_date: NOW, expiry_date: '2027-01-31Z' }
  t.ok(readCachedItem(KIND_SPECS.requests, request, 'owner', NOW)?.valid, "a request's expiry_date is Alma's date, not validity")
  t.equal(readCachedItem(KIND_SPECS.requests, { ...request, record_expiry_date: undefined }, 'owner', NOW), undefined)
  // A validity number where Alma's date belongs (an older writer's): a miss, never served as the date.
  t.equal(readCachedItem(KIND_SPECS.requests, { ...request, expiry_date: NOW }, 'owner', NOW), undefined, "a number in a request's expiry_date")
  t.equal(readCachedItem(KIND_SPECS.requests, { ...request, request_date: NOW }, 'owner', NOW), undefined, "a number in a request's request_date")
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, due_date: NOW }, 'owner', NOW), undefined, "a number in a loan's due_date")
  // alma-api.md: null as often as left out. A null is served as the null it is, not taken for a broken row (a miss).
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, renewable: null }, 'owner', NOW)?.record.renewable, null, 'a null renewable')

  const fee = { ...almaFee('owner', 1), expiry_date: NOW }
  t.ok(readCachedItem(KIND_SPECS.fees, fee, 'owner', NOW), 'fee owner from user_primary_id.value')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, user_primary_id: 'owner' }, 'owner', NOW), undefined, 'fee owner must be a map')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, balance: '12.50' }, 'owner', NOW), undefined, 'an amount of the wrong type (2.1: a number stays a number)')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, transactions: null }, 'owner', NOW)?.record.transactions, null, 'null transactions')
  // A fee nothing has been paid on may come without transactions: a usable row, its record without the field.
  const { transaction: _none, ...noTransactions } = fee as Record<string, unknown>
  t.notOk('transactions' in (readCachedItem(KIND_SPECS.fees, noTransactions, 'owner', NOW)?.record ?? { transactions: 'no record' }), 'no transactions: a record without the field')

  // alma-api.md: optional text comes back null as often as it is left out, inside code fields too.
  const nullTexts = { ...fee, owner: { value: 'MAIN', desc: null }, type: { value: null, desc: null }, user_primary_id: { value: 'owner', link: null } }
  t.strictSame(readCachedItem(KIND_SPECS.fees, nullTexts, 'owner', NOW)?.record.owner, { value: 'MAIN', desc: null }, 'a code with a null description is a usable row, the null kept')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, owner: { value: 'MAIN', desc: 7 } }, 'owner', NOW), undefined, 'a code with a numeric description is not')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, owner: null }, 'owner', NOW)?.record.owner, null, 'a null code is served as null')
  t.strictSame(readCachedItem(KIND_SPECS.fees, { ...fee, type: { desc: 'Overdue fine' } }, 'owner', NOW)?.record.type, { desc: 'Overdue fine' }, 'a code without its value, as it is')
  // Null where a number or a date belongs is a usable row, the null served as it is (2.1), not a miss.
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, balance: null }, 'owner', NOW)?.record.balance, null, 'a null amount')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, creation_time: null }, 'owner', NOW)?.record.creation_time, null, 'a null creation time')
  t.equal(readCachedItem(KIND_SPECS.loans, { ...row, due_date: null }, 'owner', NOW)?.record.due_date, null, 'a null due date')
  t.equal(readCachedItem(KIND_SPECS.requests, { ...request, material_type: 'BOOK' }, 'owner', NOW)?.record.material_type, 'BOOK', 'a code as plain text')

  // What the document client makes of DynamoDB sets and binaries: not JSON, so not served.
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, barcode: new Set(['b1', 'b2']) }, 'owner', NOW), undefined, 'a string set in a free-form field')
  t.equal(readCachedItem(KIND_SPECS.fees, { ...fee, transactions: [{ amount: 1, receipt: new Uint8Array([1, 2]) }] }, 'owner', NOW), undefined, 'binary nested in a free-form field')
  t.ok(readCachedItem(KIND_SPECS.fees, { ...fee, transactions: [{ amount: 1, note: null, parts: [1, 'two', true] }] }, 'owner', NOW), 'nested JSON in a free-form field is fine')
})

t.test('readCachedUser', async (t) => {
  const row = { primary_id: 'u1', expiry_date: NOW, loan_ids: ['a1', 'a1', 'b2'], request_ids: new Set(['r1']) }
  t.same(readCachedUser(row, 'U1', NOW), { valid: true, ids: { loans: ['a1', 'b2'], requests: ['r1'], fees: [] } },
    'lists or sets, deduplicated; an absent list is empty; key compared lowercased')
  t.equal(readCachedUser(row, 'U1', NOW + 1)?.valid, false)
  t.equal(readCachedUser(undefined, 'u1', NOW), undefined)
  t.equal(readCachedUser({ ...row, primary_id: 'u2' }, 'u1', NOW), undefined)
  t.equal(readCachedUser({ ...row, expiry_date: 'soon' }, 'u1', NOW), undefined)
  t.equal(readCachedUser({ ...row, loan_ids: 'a1' }, 'u1', NOW), undefined, 'not a list: the row is a miss (CONTRACT 4)')
  t.equal(readCachedUser({ ...row, loan_ids: new Set([1, 2]) }, 'u1', NOW), undefined, 'numbers: a miss')
  // DynamoDB holds NULL attributes: a null list is a list of no type CONTRACT 4 names, not an absent (empty) one.
  t.equal(readCachedUser({ ...row, fee_ids: null }, 'u1', NOW), undefined, 'a null list: a miss, not an empty list')
  t.same(readCachedUser({ ...row, loan_ids: ['a1', '../admin'] }, 'u1', NOW)?.ids, { loans: undefined, requests: ['r1'], fees: [] },
    'an ID that breaks 2.2 is never used: that list alone comes from Alma')
  // An item ID's rules are narrower than a user ID's: no @ or +, 64 characters at most.
  for (const id of ['x@y', 'x+y', 'a'.repeat(65)]) {
    t.equal(readCachedUser({ ...row, loan_ids: ['a1', id] }, 'u1', NOW)?.ids.loans, undefined, `an item ID ${id.length > 8 ? `of ${id.length} characters` : id} is not used either`)
  }
  t.same(readCachedUser({ ...row, loan_ids: ['a'.repeat(64)] }, 'u1', NOW)?.ids.loans, ['a'.repeat(64)], 'one of 64 is')
  const long = Array.from({ length: 10_000 }, (_, i) => `id${i}`)
  t.equal(readCachedUser({ ...row, loan_ids: long }, 'u1', NOW)?.ids.loans?.length, 10_000, 'however long (CONTRACT 2: lists are complete)')
})

t.test('inactiveInAlma: what Alma\'s lists leave out', async (t) => {
  const { loans, requests, fees } = KIND_SPECS
  t.ok(loans.inactiveInAlma?.({ loan_id: '1', loan_status: 'COMPLETE' }), 'a returned loan')
  t.notOk(loans.inactiveInAlma?.({ loan_id: '1', loan_status: 'ACTIVE' }))
  t.notOk(loans.inactiveInAlma?.({ loan_id: '1', loan_status: 'Active' }), 'in any case')
  t.notOk(loans.inactiveInAlma?.({ loan_id: '1' }), 'no status: kept')
  t.ok(fees.inactiveInAlma?.({ id: '1', status: { value: 'CLOSED', desc: 'Closed' } }), 'a paid fee')
  t.ok(fees.inactiveInAlma?.({ id: '1', status: { value: 'INDISPUTE', desc: 'In dispute' } }), 'a disputed fee: not in the ACTIVE list either')
  t.ok(fees.inactiveInAlma?.({ id: '1', status: 'CLOSED' }), 'the code as plain text')
  t.notOk(fees.inactiveInAlma?.({ id: '1', status: { value: 'ACTIVE' } }))
  t.notOk(fees.inactiveInAlma?.({ id: '1', status: null }), 'a null status: kept')
  t.equal(requests.inactiveInAlma, undefined, 'requests: alma-api.md documents no status of the history list')
})

t.test('user keys fold every capital, A to Z', async (t) => {
  t.same(readCachedUser({ primary_id: 'zz-top-az', expiry_date: NOW }, 'ZZ-Top-AZ', NOW)?.valid, true, 'Z is folded as A is')
})
