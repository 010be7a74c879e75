import t from 'tap'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { DynamoCache } from '../src/clients/dynamo-cache.js'
import { DAY, nowSeconds, startTestStack } from './helper.js'

// The cache reader against dynalite: batching past 100 keys, and the keys a
// BatchGetItem leaves unprocessed when its answer would be too large.

const stack = await startTestStack(t)
const records = almaUserRecords('dynamo-1', { loans: 250, requests: 0, fees: 0 })
const rows = cacheRowsOf('dynamo-1', records, nowSeconds() + DAY)
await stack.writeCacheRows(rows)

// dynalite, like DynamoDB, stops a BatchGetItem answer at a size limit
// (DynamoDB at 16 MB, dynalite at about 1.4 MB) and returns the rest as UnprocessedKeys.
const bulky = almaUserRecords('dynamo-bulky', { loans: 6, requests: 0, fees: 0 })
const bulkyRows = cacheRowsOf('dynamo-bulky', bulky, nowSeconds() + DAY)
await stack.writeCacheRows({ loans: bulkyRows.loans.map((row) => ({ ...row, description: 'x'.repeat(350_000) })) })
const bulkyKeys = bulkyRows.loans.map((row) => ({ table: 'loans' as const, id: String(row.loan_id) }))

t.test('more than 100 keys, repeated keys read once', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const keys = rows.loans.map((row) => ({ table: 'loans' as const, id: String(row.loan_id) }))
  const read = await cache.getRows([...keys, ...keys.slice(0, 10), { table: 'users', id: 'dynamo-1' }, { table: 'fees', id: 'absent' }])
  t.equal(read.get('loans')?.size, 250)
  t.same(read.get('loans')?.get(keys[0]?.id as string), rows.loans[0])
  t.equal(read.get('users')?.get('dynamo-1') !== undefined, true)
  t.equal(read.get('fees')?.get('absent'), undefined)
})

t.test('unprocessed keys are asked for again', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables })
  t.teardown(() => cache.destroy())
  const read = await cache.getRows(bulkyKeys)
  t.equal(read.get('loans')?.size, 6, 'every row, over several rounds')
})

t.test('keys still unprocessed after the retry budget fail the read', async (t) => {
  const cache = new DynamoCache({ tables: stack.tables, unprocessedRetries: 0 })
  t.teardown(() => cache.destroy())
  await t.rejects(cache.getRows(bulkyKeys), /left keys unprocessed after 1 rounds/)
})
