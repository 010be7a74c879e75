import type { AlmaRecord, Kind } from './kinds.js'

// What the rules need from the outside world, and nothing more. The plugins
// provide these; the rules never see Fastify, the AWS SDK or undici.

export type CacheTable = 'users' | Kind
export interface CacheKey { table: CacheTable, id: string }

/** Rows by table, then by key. A key with no row is absent. */
export type CacheRows = ReadonlyMap<CacheTable, ReadonlyMap<string, unknown>>

export interface CacheReader {
  /** One GetItem on the users table; undefined when there is no row. */
  getUser (userKey: string): Promise<unknown>
  /** BatchGetItem in chunks of at most 100 keys, unprocessed keys retried; called off (and failed) once `signal` aborts. */
  getRows (keys: readonly CacheKey[], signal?: AbortSignal): Promise<CacheRows>
}

export interface AlmaReader {
  /** Every active record of the kind; throws NotFoundError when Alma has no such user. */
  list (kind: Kind, userID: string, deadline: number): Promise<AlmaRecord[]>
  /** One record, or undefined when Alma has no such item for this user. */
  item (kind: Kind, userID: string, itemID: string, deadline: number): Promise<AlmaRecord | undefined>
}

export interface UserQueue {
  send (userID: string): Promise<void>
}

/** The part of pino the rules use. */
export interface Logger {
  warn (details: object, message: string): void
  error (details: object, message: string): void
}

export interface ResolutionContext {
  cache: CacheReader
  alma: AlmaReader
  queue: UserQueue
  log: Logger
  /** unix seconds */
  now: () => number
  /** epoch milliseconds by which every Alma call of the request must be over */
  deadline: number
}

/** CONTRACT 2.3, X-Cache. */
export type CacheOutcome = 'hit' | 'miss' | 'partial' | 'stale'

export interface Resolved<T> {
  value: T
  cache: CacheOutcome
}
