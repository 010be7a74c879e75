import { setTimeout as sleep } from 'node:timers/promises'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import pLimit from 'p-limit'
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb'
import { CACHE_KEY_FIELDS } from '../resolution/kinds.js'
import type { CacheKey, CacheReader, CacheRows, CacheTable } from '../resolution/ports.js'
import { requestCalls, roundTripLine } from '../observability/request-calls.js'
import { boundedClient, boundsMs, fastPeerBounds, withinBounds, type CallBounds } from './aws-requests.js'

/** The table name of each cache table (CONTRACT 4). */
export type CacheTables = Record<CacheTable, string>

export interface DynamoCacheOptions {
  tables: CacheTables
  /** AWS SDK retry budget per call (attempts, first included) */
  maxAttempts?: number
  connectionTimeoutMs?: number
  requestTimeoutMs?: number
  /** rounds of BatchGetItem for keys DynamoDB left unprocessed */
  unprocessedRetries?: number
}

/** BatchGetItem takes 100 keys at most. */
const BATCH_LIMIT = 100

/**
 * Batches of one read in flight at once. The SDK's HTTP handler keeps 50
 * sockets, and a call waiting for one spends its connection timeout waiting:
 * a users row listing thousands of IDs, sent all at once, would time its own
 * batches out (and other requests' calls with them).
 */
const BATCHES_IN_FLIGHT = 16

/**
 * A failed cache read, naming the operation and the tables: a wrong table name,
 * a table in another region or a missing permission reads as what it is, not
 * only as DynamoDB's "Requested resource not found" or "AccessDeniedException".
 */
export class CacheReadError extends Error {
  /** the AWS SDK's account of the call (DynamoDB's request ID, status, attempts), for the logs */
  readonly $metadata?: unknown

  constructor (operation: string, tables: readonly string[], cause: unknown) {
    // The cause's message follows in the logs (pino appends it), and with the error when it is read.
    super(`${operation} on ${tables.join(', ')} (${cause instanceof Error ? cause.name : String(cause)})`, { cause })
    this.name = 'CacheReadError'
    if (typeof cause === 'object' && cause !== null && '$metadata' in cause) this.$metadata = cause.$metadata
  }
}

/** Runs a read, its failure as a CacheReadError. */
async function reading<T> (operation: string, tables: readonly string[], read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    throw new CacheReadError(operation, tables, error)
  }
}

export class DynamoCache implements CacheReader {
  readonly #client: DynamoDBClient
  readonly #documents: DynamoDBDocumentClient
  readonly #tables: CacheTables
  readonly #tableOf: Map<string, CacheTable>
  readonly #unprocessedRetries: number
  readonly #bounds: CallBounds

  constructor (options: DynamoCacheOptions) {
    this.#tables = options.tables
    this.#tableOf = new Map(Object.entries(options.tables).map(([table, name]) => [name, table as CacheTable]))
    this.#unprocessedRetries = options.unprocessedRetries ?? 3
    // Endpoint and credentials come from the environment (AWS_ENDPOINT_URL_DYNAMODB and the
    // usual chain). Timeouts are ours: the SDK's defaults would let a hung DynamoDB hold a
    // request for minutes. DynamoDB answers in milliseconds; a cache that does not is
    // skipped (CONTRACT 3.7) after at most two attempts of 1.5 s.
    this.#bounds = fastPeerBounds(options)
    const client = this.#client = new DynamoDBClient(boundedClient(this.#bounds))
    // One count per HTTP round trip: below the retry middleware, so retries count too.
    client.middlewareStack.add((next, { commandName }) => async (args) => {
      const calls = requestCalls()
      if (calls === undefined) return next(args)
      calls.dynamo++
      const line = roundTripLine(calls, 'dynamo', 'DynamoDB call', { command: commandName })
      try {
        const output = await next(args)
        line({ status: (output.response as { statusCode?: unknown }).statusCode })
        return output
      } catch (error) {
        line({ error: (error as Error).name })
        throw error
      }
    }, { step: 'finalizeRequest', priority: 'low', name: 'countRoundTrips' })
    // Numbers as JSON would read them: a huge number in a bad row must not throw the whole batch away.
    this.#documents = DynamoDBDocumentClient.from(client, { unmarshallOptions: { wrapNumbers: Number } })
  }

  destroy (): void {
    // The document client's destroy does nothing (lib-dynamodb): the client it wraps holds the sockets.
    this.#client.destroy()
  }

  async getUser (userKey: string): Promise<unknown> {
    const { Item } = await reading('GetItem', [this.#tables.users], () =>
      withinBounds(this.#bounds, (options) => this.#documents.send(new GetCommand({ TableName: this.#tables.users, Key: { [CACHE_KEY_FIELDS.users]: userKey } }), options)))
    return Item
  }

  async getRows (keys: readonly CacheKey[], signal?: AbortSignal): Promise<CacheRows> {
    const unique = [...new Map(keys.map((key) => [`${key.table}\0${key.id}`, key])).values()]
    const chunks: CacheKey[][] = []
    for (let start = 0; start < unique.length; start += BATCH_LIMIT) chunks.push(unique.slice(start, start + BATCH_LIMIT))
    const rows = new Map<CacheTable, Map<string, unknown>>()
    // One time limit for the whole read, as for one call: batches waiting their turn must
    // not make a slow DynamoDB cost a limit for each group of them. And once a batch has
    // failed, so has the read: the others are called off, the waiting ones never sent.
    const read = new AbortController()
    const limitMs = boundsMs(this.#bounds)
    const tables = () => [...new Set(unique.map((key) => this.#tables[key.table]))]
    const timer = setTimeout(() => { read.abort(new CacheReadError('BatchGetItem', tables(), new Error(`No answer within ${limitMs} ms`))) }, limitMs)
    // Called off by the caller (the request is answered without it): over at once, nothing left in flight.
    const callOff = () => { read.abort(new CacheReadError('BatchGetItem', tables(), new Error('Called off'))) }
    signal?.addEventListener('abort', callOff)
    // A signal aborted already never calls its listeners: called off before any batch is sent.
    if (signal?.aborted === true) callOff()
    const inTurn = pLimit(BATCHES_IN_FLIGHT)
    try {
      await Promise.all(chunks.map((chunk) => inTurn(async () => {
        if (read.signal.aborted) return
        try {
          await this.#batchGet(chunk, rows, read.signal)
        } catch (error) {
          // The first failure (or the time limit) is the read's: the batches called off after it fail only for that.
          if (!read.signal.aborted) read.abort(error)
        }
      })))
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', callOff)
    }
    if (read.signal.aborted) throw read.signal.reason
    return rows
  }

  async #batchGet (chunk: readonly CacheKey[], rows: Map<CacheTable, Map<string, unknown>>, signal: AbortSignal): Promise<void> {
    let requestItems: Record<string, { Keys: Record<string, unknown>[] }> | undefined = {}
    for (const { table, id } of chunk) {
      const name = this.#tables[table]
      requestItems[name] ??= { Keys: [] }
      requestItems[name].Keys.push({ [CACHE_KEY_FIELDS[table]]: id })
    }
    for (let round = 0; requestItems !== undefined && Object.keys(requestItems).length > 0; round++) {
      const tables = Object.keys(requestItems)
      if (round > this.#unprocessedRetries) throw new CacheReadError('BatchGetItem', tables, new Error(`Keys left unprocessed after ${round} rounds`))
      if (round > 0) await sleep(Math.random() * 50 * 2 ** round, undefined, { signal })
      const output = await reading('BatchGetItem', tables, () =>
        withinBounds(this.#bounds, (options) => this.#documents.send(new BatchGetCommand({ RequestItems: requestItems }), options), signal))
      for (const [name, items] of Object.entries({ ...output.Responses })) {
        const table = this.#tableOf.get(name) as CacheTable
        const byKey = rows.get(table) ?? new Map<string, unknown>()
        rows.set(table, byKey)
        for (const item of items) {
          const key = item[CACHE_KEY_FIELDS[table]]
          if (typeof key === 'string') byKey.set(key, item)
        }
      }
      requestItems = output.UnprocessedKeys as typeof requestItems
    }
  }
}
