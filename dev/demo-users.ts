import { almaUserRecords, cacheRowsOf } from './demo-records.js'
import type { EmbeddedStack } from './embedded-stack.js'

export interface DemoUser {
  userID: string
  about: string
  /** item paths worth trying, relative to /users/{userID}/ */
  items: string[]
}

const DAY = 24 * 60 * 60

/** The demo users of `npm run dev`, in Alma (the simulator) and in the cache. */
export async function seedDemoUsers (stack: EmbeddedStack, now = Math.floor(Date.now() / 1000)): Promise<DemoUser[]> {
  const cached = almaUserRecords('demo-cached', { loans: 3, requests: 2, fees: 2 })
  const almaOnly = almaUserRecords('demo-alma-only', { loans: 4, requests: 1, fees: 1 })
  const heavy = almaUserRecords('demo-many-loans', { loans: 145, requests: 23, fees: 4 })
  const expired = almaUserRecords('demo-expired', { loans: 2, requests: 1, fees: 1 })

  stack.alma?.addUser({ primary_id: 'demo-cached', ...cached })
  stack.alma?.addUser({ primary_id: 'demo-alma-only', ...almaOnly })
  stack.alma?.addUser({ primary_id: 'demo-many-loans', ...heavy })
  stack.alma?.addUser({ primary_id: 'demo-expired', ...expired })

  await stack.writeCacheRows(cacheRowsOf('demo-cached', cached, now + 30 * DAY))
  await stack.writeCacheRows(cacheRowsOf('demo-expired', expired, now - DAY))

  const first = (records: Array<Record<string, unknown>>, field: string) => String(records[0]?.[field])
  return [
    { userID: 'demo-cached', about: 'fully cached (X-Cache: hit, no Alma call)', items: [`loans/${first(cached.loans, 'loan_id')}`, `fees/${first(cached.fees, 'id')}`] },
    { userID: 'demo-alma-only', about: 'only in Alma (X-Cache: miss, queued for a refresh)', items: [`requests/${first(almaOnly.requests, 'request_id')}`] },
    { userID: 'demo-many-loans', about: '145 loans, paged from Alma at 100', items: [] },
    { userID: 'demo-expired', about: 'cache records expired (served from Alma, queued)', items: [`loans/${first(expired.loans, 'loan_id')}`] }
  ]
}
