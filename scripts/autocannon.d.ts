// The part of autocannon 9 that scripts/load.ts uses; the package ships no types.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    /** called with every complete response to this request; header names as the server sent them */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void
  }

  interface Client extends EventEmitter {
    setRequests (requests: Request[]): void
  }

  interface Options {
    url: string | string[]
    connections?: number
    /** seconds */
    duration?: number
    /** seconds to wait for a response */
    timeout?: number
    pipelining?: number
    requests?: Request[]
    setupClient?: (client: Client) => void
    title?: string
  }

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
    p99_9: number
  }

  interface Result {
    title?: string
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    mismatches: number
    statusCodeStats: Record<string, { count: number }>
    latency: Histogram
    requests: Histogram & { sent: number }
    throughput: Histogram
  }

  interface Instance extends EventEmitter {
    stop (): void
  }

  function autocannon (options: Options, callback: (error: Error | null, result: Result) => void): Instance

  export type { Client, Histogram, Instance, Options, Request, Result }
  export default autocannon
}
