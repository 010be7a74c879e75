import t from 'tap'
import { almaUserRecords, cacheRowsOf, type AlmaUserRecords, type CacheRowSet } from '../dev/demo-records.js'
import { AlmaBadGatewayError, AlmaThrottledError, NotFoundError, UnavailableError } from '../src/errors.js'
import { KIND_SPECS, KINDS, type AlmaRecord, type Kind } from '../src/resolution/kinds.js'
import type { AlmaReader, CacheKey, CacheReader, CacheTable, ResolutionContext } from '../src/resolution/ports.js'
import { toRecord } from '../src/resolution/records.js'
import { resolveItem, resolveList, resolveUser } from '../src/resolution/resolve.js'

// The rules of CONTRACT 3 on their own (src/resolution/ is free of Fastify and
// the SDK), through their ports: a cache of rows in memory, an Alma that answers
// or fails as each case says. What the HTTP tests cannot reach from outside: an
// Alma call that fails with a bug rather than an Alma failure, the exact keys
// the cache is asked for.

const NOW = 1_800_000_000
const DAY = 86_400

/** A cache holding `rows`, remembering the keys of each batched read. */
function memoryCache (...sets: Array<Partial<CacheRowSet>>): CacheReader & { reads: CacheKey[][] } {
  const tables = new Map<CacheTable, Map<string, unknown>>(['users', ...KINDS].map((table) => [table as CacheTable, new Map()]))
  for (const { user, ...items } of sets) {
    if (user !== undefined) tables.get('users')?.set(String(user.primary_id), user)
    for (const kind of KINDS) for (const row of items[kind] ?? []) tables.get(kind)?.set(String(row[KIND_SPECS[kind].idField]), row)
  }
  const reads: CacheKey[][] = []
  return {
    reads,
    getUser: async (key) => tables.get('users')?.get(key),
    getRows: async (keys) => {
      reads.push([...keys])
      const rows = new Map<CacheTable, Map<string, unknown>>()
      for (const { table, id } of keys) {
        const row = tables.get(table)?.get(id)
        if (row !== undefined) rows.set(table, (rows.get(table) ?? new Map()).set(id, row))
      }
      return rows
    }
  }
}

type ItemAnswer = AlmaRecord | undefined | Error
/** An Alma that answers items and lists from `records`, except where `items` or `lists` say otherwise. */
function scriptedAlma (records: AlmaUserRecords | undefined, { items = {}, lists = {} }: { items?: Record<string, ItemAnswer>, lists?: Partial<Record<Kind, Error>> } = {}): AlmaReader {
  return {
    list: async (kind) => {
      const failure = lists[kind]
      if (failure !== undefined) throw failure
      if (records === undefined) throw new NotFoundError('User not found')
      return records[kind]
    },
    item: async (kind, _userID, itemID) => {
      if (itemID in items) {
        const answer = items[itemID]
        if (answer instanceof Error) throw answer
        return answer
      }
      return records?.[kind].find((record) => record[KIND_SPECS[kind].idField] === itemID)
    }
  }
}

interface LoggedLine { level: 'warn' | 'error', details: Record<string, unknown>, message: string }
function contextOf (cache: CacheReader, alma: AlmaReader): ResolutionContext & { lines: LoggedLine[], queued: string[] } {
  const lines: LoggedLine[] = []
  const queued: string[] = []
  return {
    cache,
    alma,
    queue: { send: async (userID) => { queued.push(userID) } },
    log: {
      warn: (details, message) => { lines.push({ level: 'warn', details: details as Record<string, unknown>, message }) },
      error: (details, message) => { lines.push({ level: 'error', details: details as Record<string, unknown>, message }) }
    },
    now: () => NOW,
    deadline: Date.now() + 5000,
    lines,
    queued
  }
}

const asRecords = (kind: Kind, records: AlmaRecord[]) => records.map((record) => toRecord(KIND_SPECS[kind], record))
const staleLines = (lines: LoggedLine[]) => lines.filter((line) => line.message === 'Alma failed; serving an expired cache copy')

t.test('a list reads from the cache only the kind asked for', async (t) => {
  const records = almaUserRecords('rules-1', { loans: 3, requests: 2, fees: 2 })
  const cache = memoryCache(cacheRowsOf('rules-1', records, NOW + DAY))
  const resolved = await resolveList(contextOf(cache, scriptedAlma(records)), 'rules-1', 'loans')
  t.strictSame(resolved, { value: asRecords('loans', records.loans), cache: 'hit' })
  t.same(cache.reads, [records.loans.map((loan) => ({ table: 'loans', id: loan.loan_id }))], 'one read, of the three loans alone')
})

t.test('records from item calls are the contract\'s records: its fields only, under its names', async (t) => {
  const records = almaUserRecords('rules-2', { loans: 0, requests: 0, fees: 3 })
  const rows = cacheRowsOf('rules-2', records, NOW + DAY)
  // One of three fees not cached: one item call or the one list call, and a tie goes to the item call.
  const fromAlma: AlmaRecord = { ...records.fees[2], link: '/almaws/v1/users/rules-2/fees/3', user_id: 'cache-only' }
  const alma = scriptedAlma(records, { items: { [String(fromAlma.id)]: fromAlma } })
  const { value, cache } = await resolveList(contextOf(memoryCache({ ...rows, fees: rows.fees.slice(0, 2) }), alma), 'rules-2', 'fees')
  t.equal(cache, 'partial')
  t.strictSame(value[2], toRecord(KIND_SPECS.fees, records.fees[2] as AlmaRecord), 'as the cache would have it')
  t.ok(Array.isArray(value[2]?.transactions) && !('transaction' in (value[2] as AlmaRecord)), 'transactions, not Alma\'s transaction')
  t.notOk('link' in (value[2] as AlmaRecord) || 'user_id' in (value[2] as AlmaRecord), 'nothing outside CONTRACT 2.1')
})

t.test('only Alma failing lets expired copies stand in: a bug, or the service closing, stands', async (t) => {
  const records = almaUserRecords('rules-3', { loans: 0, requests: 101, fees: 0 })
  const expired = cacheRowsOf('rules-3', records, NOW - DAY)
  const valid = cacheRowsOf('rules-3', records, NOW + DAY)
  // A valid user row; two of 101 requests expired: two item calls (a tie with two pages goes to them).
  const cache = memoryCache({ user: valid.user, requests: [...expired.requests.slice(0, 2), ...valid.requests.slice(2)] })
  const [first, second] = records.requests.map((request) => String(request.request_id))
  const bug = new TypeError('Cannot read properties of undefined')
  const closing = new UnavailableError(1, 'The service is shutting down')
  const almaDown = new AlmaBadGatewayError('Alma answered 500')

  const served = contextOf(cache, scriptedAlma(records, { items: { [String(first)]: almaDown, [String(second)]: almaDown } }))
  t.equal((await resolveList(served, 'rules-3', 'requests')).cache, 'stale', 'Alma failing on both: their copies')
  t.equal(staleLines(served.lines).length, 1, 'said once for the list')

  for (const [what, failures] of [
    ['a bug on one, Alma failing on the other', { [String(first)]: almaDown, [String(second)]: bug }],
    ['a bug first, Alma failing after', { [String(first)]: bug, [String(second)]: almaDown }]
  ] as const) {
    const ctx = contextOf(cache, scriptedAlma(records, { items: failures }))
    await t.rejects(resolveList(ctx, 'rules-3', 'requests'), bug, `${what}: the bug stands`)
    t.same(staleLines(ctx.lines), [], `${what}: no copy said to be served`)
  }
  const whileClosing = contextOf(cache, scriptedAlma(records, { items: { [String(first)]: closing } }))
  await t.rejects(resolveList(whileClosing, 'rules-3', 'requests'), closing, 'the service closing is no Alma failure')

  // A single item, and an expired user's lists, alike.
  const item = contextOf(cache, scriptedAlma(records, { items: { [String(first)]: bug } }))
  await t.rejects(resolveItem(item, 'rules-3', 'requests', String(first)), bug)
  const expiredUser = contextOf(memoryCache(expired), scriptedAlma(records, { lists: { requests: bug } }))
  await t.rejects(resolveList(expiredUser, 'rules-3', 'requests'), bug)
  t.same(expiredUser.queued, ['rules-3'], 'queued all the same')
  const expiredUserAlmaDown = contextOf(memoryCache(expired), scriptedAlma(records, { lists: { requests: almaDown } }))
  t.strictSame(await resolveList(expiredUserAlmaDown, 'rules-3', 'requests'), { value: asRecords('requests', records.requests), cache: 'stale' })
})

t.test('a users row with an unusable ID list: that list from Alma, said in the log; a user Alma no longer knows has none', async (t) => {
  const records = almaUserRecords('rules-4', { loans: 1, requests: 2, fees: 0 })
  const rows = cacheRowsOf('rules-4', records, NOW + DAY)
  const damaged = memoryCache({ ...rows, user: { ...rows.user, request_ids: ['not an ID!'] } })
  const known = contextOf(damaged, scriptedAlma(records))
  t.strictSame(await resolveList(known, 'rules-4', 'requests'), { value: asRecords('requests', records.requests), cache: 'miss' })
  t.same(known.lines, [{ level: 'warn', details: { attribute: 'request_ids' }, message: 'users row with an unusable ID list; that list comes from Alma' }])
  const forgotten = contextOf(damaged, scriptedAlma(undefined))
  t.same(await resolveUser(forgotten, 'rules-4'), {
    value: { primary_id: 'rules-4', loans: asRecords('loans', records.loans), requests: [], fees: [] },
    cache: 'partial'
  }, 'the cached loans, and no requests: not a 404 for a user the cache knows')
})

t.test('an expired user\'s lists: a bug on one list stands, whatever Alma does on another, as for item calls', async (t) => {
  const records = almaUserRecords('rules-5', { loans: 2, requests: 2, fees: 0 })
  const expired = cacheRowsOf('rules-5', records, NOW - DAY)
  const bug = new TypeError('Cannot read properties of undefined')
  const almaDown = new AlmaBadGatewayError('Alma answered 500')
  // The users row lists the loans, whose rows are gone: Alma's failure on them has no copies to stand in.
  const ctx = contextOf(memoryCache({ user: expired.user, requests: expired.requests }), scriptedAlma(records, { lists: { loans: almaDown, requests: bug } }))
  await t.rejects(resolveUser(ctx, 'rules-5'), bug, 'the bug, not Alma\'s error')
  t.same(staleLines(ctx.lines), [], 'no copy said to be served')
  t.same(ctx.queued, ['rules-5'], 'queued all the same')
})

t.test('item calls failing in different ways without copies: the failure that stands is the earliest listed item\'s, however the calls finish', async (t) => {
  const records = almaUserRecords('rules-6', { loans: 0, requests: 101, fees: 0 })
  const valid = cacheRowsOf('rules-6', records, NOW + DAY)
  // A valid user row; the first two of 101 requests not cached: two item calls (a tie with two pages goes to them).
  const cache = memoryCache({ user: valid.user, requests: valid.requests.slice(2) })
  const [first, second] = records.requests.map((request) => String(request.request_id))
  const throttled = new AlmaThrottledError(30, 'PER_SECOND_THRESHOLD')
  const almaDown = new AlmaBadGatewayError('Alma answered 500')
  const failing = (delays: Record<string, number>): AlmaReader => ({
    list: async () => { throw new TypeError('no list call expected') },
    item: async (_kind, _userID, itemID) => {
      await new Promise((resolve) => setTimeout(resolve, delays[itemID]))
      throw itemID === first ? throttled : almaDown
    }
  })
  for (const [what, delays] of [
    ['the first listed failing last', { [String(first)]: 30, [String(second)]: 0 }],
    ['the first listed failing first', { [String(first)]: 0, [String(second)]: 30 }]
  ] as const) {
    await t.rejects(resolveList(contextOf(cache, failing(delays)), 'rules-6', 'requests'), throttled, what)
  }
})

t.test('an expired user\'s lists failing in different ways without copies: the error that stands is the earliest kind\'s, however the calls finish', async (t) => {
  const records = almaUserRecords('rules-7', { loans: 2, requests: 0, fees: 2 })
  // The users row lists the loans and fees, whose rows are gone: neither list has copies to stand in.
  const cache = memoryCache({ user: cacheRowsOf('rules-7', records, NOW - DAY).user })
  const throttled = new AlmaThrottledError(30, 'PER_SECOND_THRESHOLD')
  const almaDown = new AlmaBadGatewayError('Alma answered 500')
  const failing = (delays: Partial<Record<Kind, number>>): AlmaReader => ({
    list: async (kind) => {
      await new Promise((resolve) => setTimeout(resolve, delays[kind]))
      throw kind === 'loans' ? throttled : almaDown
    },
    item: async () => { throw new TypeError('no item call expected') }
  })
  for (const [what, delays] of [
    ['the loans failing last', { loans: 30, fees: 0 }],
    ['the loans failing first', { loans: 0, fees: 30 }]
  ] as const) {
    await t.rejects(resolveUser(contextOf(cache, failing(delays)), 'rules-7'), throttled, what)
  }
})
