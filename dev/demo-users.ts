import { almaUserRecords, cacheRowsOf, type AlmaUserRecords } from './demo-records.js'
import type { EmbeddedStack } from './embedded-stack.js'

export interface DemoUser {
  userID: string
  about: string
  /** item paths worth trying, relative to /users/{userID}/ */
  items: string[]
}

const DAY = 24 * 60 * 60

/**
 * A user with these many records in Alma (the simulator) and, with `cachedFor`
 * seconds, in the cache too, valid for that long. The records, for assertions.
 */
export async function seedUser (
  stack: EmbeddedStack, userID: string, counts: { loans: number, requests: number, fees: number }, cachedFor?: number
): Promise<AlmaUserRecords> {
  const records = almaUserRecords(userID, counts)
  stack.alma?.addUser({ primary_id: userID, ...records })
  if (cachedFor !== undefined) await stack.writeCacheRows(cacheRowsOf(userID, records, Math.floor(Date.now() / 1000) + cachedFor))
  return records
}

/** The demo users of `npm run dev`, in Alma (the simulator) and in the cache. */
export async function seedDemoUsers (stack: EmbeddedStack): Promise<DemoUser[]> {
  const cached = await seedUser(stack, 'demo-cached', { loans: 3, requests: 2, fees: 2 }, 30 * DAY)
  const almaOnly = await seedUser(stack, 'demo-alma-only', { loans: 4, requests: 1, fees: 1 })
  await seedUser(stack, 'demo-many-loans', { loans: 145, requests: 23, fees: 4 })
  // Cached, but expired a day ago.
  const expired = await seedUser(stack, 'demo-expired', { loans: 2, requests: 1, fees: 1 }, -DAY)

  const first = (records: Array<Record<string, unknown>>, field: string) => String(records[0]?.[field])
  return [
    { userID: 'demo-cached', about: 'fully cached (X-Cache: hit, no Alma call)', items: [`loans/${first(cached.loans, 'loan_id')}`, `fees/${first(cached.fees, 'id')}`] },
    { userID: 'demo-alma-only', about: 'only in Alma (X-Cache: miss, queued for a refresh)', items: [`requests/${first(almaOnly.requests, 'request_id')}`] },
    { userID: 'demo-many-loans', about: '145 loans, paged from Alma at 100', items: [] },
    { userID: 'demo-expired', about: 'cache records expired (served from Alma, queued)', items: [`loans/${first(expired.loans, 'loan_id')}`] }
  ]
}
