import { almaUserRecords, cacheRowsOf, DAY, nowSeconds, type AlmaUserRecords } from './demo-records.js'
import type { EmbeddedStack } from './embedded-stack.js'

export interface DemoUser {
  userID: string
  about: string
  /** item paths worth trying, relative to /users/{userID}/ */
  items: string[]
}

/** A user with these many records, seeded as seedRecords seeds them. The records, for assertions. */
export async function seedUser (
  stack: EmbeddedStack, userID: string, counts: { loans: number, requests: number, fees: number }, cachedFor?: number
): Promise<AlmaUserRecords> {
  const records = almaUserRecords(userID, counts)
  await seedRecords(stack, userID, records, cachedFor)
  return records
}

/** These records in Alma (the simulator) and, with `cachedFor` seconds, in the cache too, valid for that long. */
export async function seedRecords (stack: EmbeddedStack, userID: string, records: AlmaUserRecords, cachedFor?: number): Promise<void> {
  stack.alma?.addUser({ primary_id: userID, ...records })
  if (cachedFor !== undefined) await stack.writeCacheRows(cacheRowsOf(userID, records, nowSeconds() + cachedFor))
}

/** The demo users of `npm run dev`, in Alma (the simulator) and in the cache. */
export async function seedDemoUsers (stack: EmbeddedStack): Promise<DemoUser[]> {
  const demos: Array<[userID: string, about: string, counts: { loans: number, requests: number, fees: number }, cachedFor?: number]> = [
    ['demo-cached', 'fully cached (X-Cache: hit, no Alma call)', { loans: 3, requests: 2, fees: 2 }, 30 * DAY],
    ['demo-alma-only', 'only in Alma (X-Cache: miss, queued for a refresh)', { loans: 4, requests: 1, fees: 1 }],
    ['demo-many-loans', '145 loans, paged from Alma at 100', { loans: 145, requests: 23, fees: 4 }],
    // Cached, but expired a day ago.
    ['demo-expired', 'cache records expired (served from Alma, queued)', { loans: 2, requests: 1, fees: 1 }, -DAY]
  ]
  return Promise.all(demos.map(async ([userID, about, counts, cachedFor]) => {
    const records = await seedUser(stack, userID, counts, cachedFor)
    // One of each kind, so that every endpoint has a URL to try.
    const items = [`loans/${String(records.loans[0]?.loan_id)}`, `requests/${String(records.requests[0]?.request_id)}`, `fees/${String(records.fees[0]?.id)}`]
    return { userID, about, items }
  }))
}
