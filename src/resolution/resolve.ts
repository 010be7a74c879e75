import { msUntil } from '../by-deadline.js'
import { isAlmaFailure, isOursToFix, itemNotFoundMessage, NotFoundError } from '../errors.js'
import { settleAll } from '../settle-all.js'
import { userCacheKey } from './identifiers.js'
import { ALMA_MAX_PAGE_SIZE, KIND_SPECS, KINDS, type AlmaRecord, type Kind } from './kinds.js'
import type { CacheKey, CacheOutcome, CacheRows, ResolutionContext, Resolved } from './ports.js'
import { readCachedItem, readCachedUser, toRecord, type CachedItem, type CachedUser } from './records.js'

// The rules of CONTRACT section 3, in the order a request meets them.

export interface UserSummary {
  primary_id: string
  loans: AlmaRecord[]
  requests: AlmaRecord[]
  fees: AlmaRecord[]
}

/** get-user (3.3 for all three lists). */
export async function resolveUser (ctx: ResolutionContext, userID: string): Promise<Resolved<UserSummary>> {
  const { value, cache } = await resolveLists(ctx, userID, KINDS)
  return { value: { primary_id: userID, loans: value.loans, requests: value.requests, fees: value.fees }, cache }
}

/** get-user-loans, get-user-requests, get-user-fees (3.3). */
export async function resolveList (ctx: ResolutionContext, userID: string, kind: Kind): Promise<Resolved<AlmaRecord[]>> {
  const { value, cache } = await resolveLists(ctx, userID, [kind])
  return { value: value[kind], cache }
}

/** get-user-loan, get-user-request, get-user-fee (3.4). */
export async function resolveItem (ctx: ResolutionContext, userID: string, kind: Kind, itemID: string): Promise<Resolved<AlmaRecord>> {
  const userKey = userCacheKey(userID)
  const rows = await readRows(ctx, [{ table: 'users', id: userKey }, { table: kind, id: itemID }])
  const user = readCachedUser(rows.get('users')?.get(userKey), userID, ctx.now())
  const cached = cachedItems(ctx, userID, kind, [itemID], rows)
  const resolve = () => itemFromCacheOrAlma(ctx, userID, kind, itemID, cached)
  return user?.valid ? resolve() : whileQueueing(ctx, userID, resolve)
}

type Lists = Record<Kind, AlmaRecord[]>

/**
 * Where a request's records came from; for expired copies served (3.7), the
 * Alma failure each kind's copies stood in for, said in the log only once the
 * whole answer stands.
 */
interface Sources {
  used: Set<'cache' | 'alma'>
  staleFor: Map<Kind, unknown>
}

const noSources = (): Sources => ({ used: new Set(), staleFor: new Map() })

function outcomeOf ({ used, staleFor }: Sources): CacheOutcome {
  if (staleFor.size > 0) return 'stale'
  if (used.has('alma')) return used.has('cache') ? 'partial' : 'miss'
  return 'hit'
}

async function resolveLists (ctx: ResolutionContext, userID: string, kinds: readonly Kind[]): Promise<Resolved<Lists>> {
  const user = await readUser(ctx, userID)
  const sources = noSources()
  const lists = user?.valid
    ? await listsFromCachedUser(ctx, userID, user, kinds, sources)
    : await whileQueueing(ctx, userID, () => listsFromAlma(ctx, userID, kinds, user, sources))
  for (const [kind, error] of sources.staleFor) logStale(ctx, kind, error)
  return { value: activeOnly(lists), cache: outcomeOf(sources) }
}

/**
 * CONTRACT 2: a list holds what is active, as Alma's own lists do, whatever the
 * source of each record: a returned loan or a paid fee still listed by a users
 * row, found by an item call or kept as a copy, is left out.
 */
function activeOnly (lists: Lists): Lists {
  const active = emptyLists()
  for (const kind of KINDS) active[kind] = lists[kind].filter((record) => KIND_SPECS[kind].inactiveInAlma?.(record) !== true)
  return active
}

/** 3.3, valid user record: the IDs come from it, the items from one batched read. */
async function listsFromCachedUser (ctx: ResolutionContext, userID: string, user: CachedUser, kinds: readonly Kind[], sources: Sources): Promise<Lists> {
  const rows = await readRows(ctx, kinds.flatMap((kind) => listedKeys(user, kind)))
  const lists = emptyLists()
  await settleAll(kinds.map(async (kind) => {
    const ids = user.ids[kind]
    if (ids !== undefined) {
      lists[kind] = await completeList(ctx, userID, kind, ids, cachedItems(ctx, userID, kind, ids, rows), sources)
      return
    }
    // A list holding an ID that breaks 2.2 (see readCachedUser): Alma's whole list instead.
    ctx.log.warn({ attribute: KIND_SPECS[kind].userIdsField }, 'users row with an unusable ID list; that list comes from Alma')
    lists[kind] = await almaListOfKnownUser(ctx, userID, kind)
    sources.used.add('alma')
  }))
  return lists
}

/** The cache keys of the items the user record lists for `kind`. */
const listedKeys = (user: CachedUser, kind: Kind): CacheKey[] =>
  (user.ids[kind] ?? []).map((id) => ({ table: kind, id }))

/**
 * The listed items in the user record's order: valid ones from the cache, the
 * others from Alma by whichever costs fewer calls, one GET per item or the
 * user's list pages. Either way the same items come back; items Alma no longer
 * has are left out.
 */
async function completeList (
  ctx: ResolutionContext, userID: string, kind: Kind, ids: readonly string[],
  cached: ReadonlyMap<string, CachedItem>, sources: Sources
): Promise<AlmaRecord[]> {
  const spec = KIND_SPECS[kind]
  const missing = ids.filter((id) => cached.get(id)?.valid !== true)
  if (missing.length < ids.length) sources.used.add('cache')
  if (missing.length === 0) return ids.map((id) => (cached.get(id) as CachedItem).record)

  const pageCalls = spec.almaPaged ? Math.ceil(ids.length / ALMA_MAX_PAGE_SIZE) : 1
  // On a tie, the pages if they carry more (a loan's renewable), else the exact item calls.
  const byPages = pageCalls < missing.length || (pageCalls === missing.length && spec.almaListOnlyFields !== undefined)
  let fromAlma: ReadonlyMap<string, AlmaRecord>
  try {
    fromAlma = byPages
      ? await fromListPages(ctx, userID, kind)
      : await oneByOne(ctx, userID, kind, missing, cached, sources)
    sources.used.add('alma')
  } catch (error) {
    fromAlma = copiesInstead(error, missing, cached)
    sources.staleFor.set(kind, error)
  }
  return ids.flatMap((id) => {
    const item = cached.get(id)
    const record = item?.valid === true ? item.record : fromAlma.get(id)
    return record === undefined ? [] : [record]
  })
}

/** The user's whole list from Alma, as records. */
async function almaList (ctx: ResolutionContext, userID: string, kind: Kind): Promise<AlmaRecord[]> {
  return (await ctx.alma.list(kind, userID, ctx.deadline)).map((record) => toRecord(KIND_SPECS[kind], record))
}

/** The same for a user the cache knows: should Alma no longer, it has none of the items, as item calls would find one by one. */
async function almaListOfKnownUser (ctx: ResolutionContext, userID: string, kind: Kind): Promise<AlmaRecord[]> {
  try {
    return await almaList(ctx, userID, kind)
  } catch (error) {
    if (error instanceof NotFoundError) return []
    throw error
  }
}

/** The user's whole list from Alma, by item ID: looked up by the cached IDs, which are strings, a record without one matches none. */
async function fromListPages (ctx: ResolutionContext, userID: string, kind: Kind): Promise<Map<string, AlmaRecord>> {
  const { idField } = KIND_SPECS[kind]
  const records = await almaListOfKnownUser(ctx, userID, kind)
  return new Map(records.flatMap((record) => typeof record[idField] === 'string' ? [[record[idField], record] as const] : []))
}

/** Per-item Alma calls; where they fail, the failed items' expired copies, if each has one. */
async function oneByOne (
  ctx: ResolutionContext, userID: string, kind: Kind, missing: readonly string[],
  cached: ReadonlyMap<string, CachedItem>, sources: Sources
): Promise<Map<string, AlmaRecord>> {
  const spec = KIND_SPECS[kind]
  const found = new Map<string, AlmaRecord>()
  const failed = new Map<string, unknown>()
  await Promise.all(missing.map(async (id) => {
    try {
      const record = await ctx.alma.item(kind, userID, id, ctx.deadline)
      if (record !== undefined) found.set(id, toRecord(spec, record))
    } catch (error) {
      failed.set(id, error)
    }
  }))
  if (failed.size === 0) return found
  // The failure that stands should there be no copies: a bug's before Alma's, then the earliest
  // listed item's (as settleAll's), not whichever call happened to end first: the same failures, the same answer.
  const errors = missing.flatMap((id) => failed.has(id) ? [failed.get(id)] : [])
  const error = errors.find((failure) => !isAlmaFailure(failure)) ?? errors[0]
  for (const [id, copy] of copiesInstead(error, [...failed.keys()], cached)) found.set(id, copy)
  sources.staleFor.set(kind, error)
  return found
}

/**
 * How long past the request's deadline the expired copies may still be read
 * after Alma failed. A cache read may take 3.5 s (the DynamoDB client's bounds);
 * 2 s past the default 20 s budget still answers within the Lambda's 25 s.
 */
export const STALE_COPIES_GRACE_MS = 2000

/** 3.3, user record missing or expired: the lists come from Alma's list endpoints. */
async function listsFromAlma (ctx: ResolutionContext, userID: string, kinds: readonly Kind[], expiredUser: CachedUser | undefined, sources: Sources): Promise<Lists> {
  const lists = emptyLists()
  const failed = new Map<Kind, unknown>()
  await settleAll(kinds.map(async (kind) => {
    try {
      lists[kind] = await almaList(ctx, userID, kind)
    } catch (error) {
      if (expiredUser === undefined || !isAlmaFailure(error)) throw error
      failed.set(kind, error)
    }
  }))
  sources.used.add('alma')
  if (failed.size === 0) return lists

  // 3.7: each list Alma failed on, from the expired user record's IDs, if every item still has a copy.
  // Alma may have failed at the deadline: the copies get a short while past it, or Alma's error stands.
  // A read not over by then is called off, not left running past the answer (into a Lambda
  // thawed for another request, its lines logged there).
  const user = expiredUser as CachedUser
  const rows = await copiesByGrace(ctx, [...failed.keys()].flatMap((kind) => listedKeys(user, kind)))
  // In the kinds' order, not the calls' (as settleAll): with no copies for two lists, the same error stands whichever call ended first.
  for (const kind of kinds.filter((kind) => failed.has(kind))) {
    const error = failed.get(kind)
    const ids = user.ids[kind]
    if (ids === undefined) throw error
    lists[kind] = [...copiesInstead(error, ids, cachedItems(ctx, userID, kind, ids, rows)).values()]
    sources.staleFor.set(kind, error)
  }
  return lists
}

/** The expired copies' rows, read by the request's deadline and its grace; none if the read fails or is not over by then. */
async function copiesByGrace (ctx: ResolutionContext, keys: readonly CacheKey[]): Promise<CacheRows> {
  const callOff = new AbortController()
  const timer = setTimeout(() => { callOff.abort() }, msUntil(ctx.deadline + STALE_COPIES_GRACE_MS))
  try {
    return await ctx.cache.getRows(keys, callOff.signal).finally(() => { clearTimeout(timer) })
  } catch (error) {
    ctx.log.warn({ err: error }, 'cache read of the expired copies failed; Alma\'s error stands')
    return new Map()
  }
}

/** 3.4: a valid item is returned; otherwise Alma's item endpoint answers. */
async function itemFromCacheOrAlma (
  ctx: ResolutionContext, userID: string, kind: Kind, itemID: string, cached: ReadonlyMap<string, CachedItem>
): Promise<Resolved<AlmaRecord>> {
  const item = cached.get(itemID)
  if (item?.valid === true) return { value: item.record, cache: 'hit' }
  let record: AlmaRecord | undefined
  try {
    record = await ctx.alma.item(kind, userID, itemID, ctx.deadline)
  } catch (error) {
    const copy = copiesInstead(error, [itemID], cached).get(itemID) as AlmaRecord
    logStale(ctx, kind, error)
    return { value: copy, cache: 'stale' }
  }
  // Not there for this user, as Alma says: gone, whatever an expired copy says (stale is for Alma failing).
  if (record === undefined) throw new NotFoundError(itemNotFoundMessage(kind, itemID, userID))
  return { value: toRecord(KIND_SPECS[kind], record), cache: 'miss' }
}

/**
 * 3.5: the user is queued for a refresh while the request is resolved, and the
 * send completes before the answer (a Lambda is frozen once it answers). A
 * failed send is logged and never fails the request.
 */
async function whileQueueing<T> (ctx: ResolutionContext, userID: string, resolve: () => Promise<T>): Promise<T> {
  const queued = ctx.queue.send(userID).catch((error: unknown) => {
    ctx.log.error({ err: error }, 'could not queue the user for a cache refresh')
  })
  try {
    return await resolve()
  } finally {
    await queued
  }
}

/** 3.7: a failing cache is a cache that missed. */
async function orMissed<T> (ctx: ResolutionContext, read: () => Promise<T>, missed: T): Promise<T> {
  try {
    return await read()
  } catch (error) {
    ctx.log.warn({ err: error }, 'cache read failed; answering from Alma')
    return missed
  }
}

async function readUser (ctx: ResolutionContext, userID: string): Promise<CachedUser | undefined> {
  return await orMissed(ctx, async () => readCachedUser(await ctx.cache.getUser(userCacheKey(userID)), userID, ctx.now()), undefined)
}

async function readRows (ctx: ResolutionContext, keys: readonly CacheKey[]): Promise<CacheRows> {
  return keys.length === 0 ? new Map() : await orMissed(ctx, () => ctx.cache.getRows(keys), new Map())
}

function cachedItems (ctx: ResolutionContext, userID: string, kind: Kind, ids: readonly string[], rows: CacheRows): Map<string, CachedItem> {
  const items = new Map<string, CachedItem>()
  const now = ctx.now()
  for (const id of ids) {
    const item = readCachedItem(KIND_SPECS[kind], rows.get(kind)?.get(id), userID, now)
    if (item !== undefined) items.set(id, item)
  }
  return items
}

/**
 * 3.7: when Alma failed, the expired copies of the items it was asked for stand
 * in for its answer, if every one of them has a copy; otherwise its error stands.
 */
function copiesInstead (error: unknown, ids: readonly string[], cached: ReadonlyMap<string, CachedItem>): Map<string, AlmaRecord> {
  if (!isAlmaFailure(error) || !ids.every((id) => cached.has(id))) throw error
  return new Map(ids.map((id) => [id, (cached.get(id) as CachedItem).record]))
}

function logStale (ctx: ResolutionContext, kind: Kind, error: unknown): void {
  // A refused or unreadable key fails every Alma call until someone fixes it: the alarm line, even though the copy saved this answer.
  const level = isOursToFix(error) ? 'error' : 'warn'
  ctx.log[level]({ err: error, stale: kind }, 'Alma failed; serving an expired cache copy')
}

const emptyLists = (): Lists => ({ loans: [], requests: [], fees: [] })
