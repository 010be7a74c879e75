import type { Dispatcher } from 'undici'
import UndiciPool from 'undici/lib/dispatcher/pool.js'
import apiRequest from 'undici/lib/api/api-request.js'

// undici's Pool and its request(), from their own modules: undici's index loads
// fetch, WebSocket, caches and mocks besides, which a Lambda would pay for on
// every cold start (about 90 ms and 250 KB here) and never use. undici's index
// gives every dispatcher request() the same way (Dispatcher.prototype.request).

/** Keep-alive connections to one origin. */
export interface Connections {
  request: (options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>
  close: () => Promise<void>
}

export function openPool (origin: string, options: UndiciPool.Options): Connections {
  const pool = new UndiciPool(origin, options)
  return {
    request: (requestOptions) => apiRequest.call(pool, requestOptions),
    close: () => pool.close()
  }
}
