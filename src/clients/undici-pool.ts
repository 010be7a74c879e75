import type { Dispatcher } from 'undici'
import UndiciPool from 'undici/lib/dispatcher/pool.js'
import apiRequest from 'undici/lib/api/api-request.js'

// undici's Pool and its request(), from their own modules: undici's index loads
// fetch, WebSocket, caches and mocks besides, which a Lambda would pay for on
// every cold start (about 90 ms and 250 KB here) and never use. undici's index
// gives every dispatcher request() the same way (Dispatcher.prototype.request).

export const Pool = UndiciPool
export type Pool = UndiciPool

export const request = (pool: Pool, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> =>
  apiRequest.call(pool, options)
