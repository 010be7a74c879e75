import { setTimeout as sleep } from 'node:timers/promises'
import pLimit, { type LimitFunction } from 'p-limit'
import { DAILY_THRESHOLD, PER_SECOND_THRESHOLD, THRESHOLD_WINDOW_MS, ThresholdPause } from './alma-thresholds.js'
import type { Connections } from './undici-pool.js'
import {
  AlmaBadGatewayError, AlmaKeyRefusedError, AlmaThrottledError, AlmaTimeoutError, AlmaUnreachableError, NotFoundError, ServiceError, SHUTTING_DOWN_MESSAGE, UnavailableError, USER_NOT_FOUND_MESSAGE
} from '../errors.js'
import { ALMA_MAX_PAGE_SIZE, isJsonObject, KIND_SPECS, type AlmaRecord, type JsonObject, type Kind, type KindSpec } from '../resolution/kinds.js'
import type { AlmaReader } from '../resolution/ports.js'
import { requestCalls, roundTripLine } from '../observability/request-calls.js'
import { byDeadline, msUntil } from '../by-deadline.js'
import { DEFAULT_ALMA_CALL_TIMEOUT_MS } from '../config.js'

export interface AlmaClientOptions {
  /** ALMA_API_URL */
  baseUrl: string
  /** resolves the key (from the environment or SSM) by the request's deadline; may reject, and is asked again next call */
  readApiKey: (deadline: number) => Promise<string>
  /** budget of one HTTP call, from connect to the end of the body (ALMA_CALL_TIMEOUT_MS's default when unset) */
  callTimeoutMs?: number
  /** retries after the first attempt, of 429s, 5xx and failed exchanges (not timeouts) */
  maxRetries?: number
  /** base of the exponential backoff */
  retryBaseDelayMs?: number
  /** calls in flight at most; further calls wait for a free one. Alma's per-second threshold is shared by the whole institution. */
  maxConnections?: number
}

// alma-api.md: the list calls mean "no such user" only with these codes;
const USER_NOT_FOUND_CODES = new Set(['401861', '401890', '401651'])
// the item calls mean "not there" with these at any 4xx status (and with any other non-key code at 400 and 404).
const ITEM_NOT_FOUND_CODES = new Set([...USER_NOT_FOUND_CODES, '401665', '401823', '401907'])
// ...and these are never "not found", whatever the call. 60258, "the API-restricted profile is
// not valid", names the API Restrictions profile assigned to the key in the Developer Network:
// the key's configuration, to be fixed by the library, not a patron's missing record.
const KEY_ERROR_CODES = new Set(['INVALID_REQUEST', 'UNAUTHORIZED', '60258'])
const THRESHOLD_CODES = new Set([PER_SECOND_THRESHOLD, DAILY_THRESHOLD])
// A day's quota does not come back within a request; tell callers to come back much later.
const DAILY_THRESHOLD_RETRY_AFTER_SECONDS = 3600
/**
 * The largest body an Alma answer may have. A page of 100 loans is some hundreds of KB,
 * a user's whole fee list (not paged) a few MB; an answer the service could send
 * (a Lambda's 6 MB) comes from far less. Without a cap, a body that never ends (a proxy
 * gone wrong) is read into memory until the call's time limit: gigabytes, and a Lambda
 * killed for its memory, answering API Gateway's opaque 5xx, with no line in the logs.
 */
const MAX_ALMA_BODY_BYTES = 16 * 2 ** 20

/**
 * The deepest nesting of arrays and objects an Alma body may have. Alma's records
 * nest a few levels (a fee's transactions' codes: five, with the list around
 * them); the answer's JSON.stringify recurses, and a body a few thousand levels
 * deep (some KB) would overflow its stack: a 500 for what is Alma's fault.
 */
const MAX_ALMA_BODY_DEPTH = 64

/** Reads of a list whose pages do not fit one another (see misfitOf), before the answer is a 502. */
const MAX_LIST_READS = 3

type CallMode = 'list' | 'item'

/** One Alma GET, with what is needed to try it again. */
interface AlmaGet {
  path: string
  query: Record<string, string>
  mode: CallMode
  deadline: number
  /** aborted once the call is no longer wanted: it is then not made, nor retried */
  unwanted?: AbortSignal
}

interface AlmaError { errorCode?: unknown, errorMessage?: unknown }

/** One HTTP exchange with Alma, its body read whole. */
interface AlmaResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** how long the call took, its wait for a turn left out */
  callMs: number
}

/**
 * An attempt's failure worth another attempt (see #get): `final`, what stands if none
 * is made; `retryAfterMs`, the least wait before it (0: none); `attemptMs`, what the
 * attempt took, the least time a retry needs left.
 */
class Retryable extends Error {
  constructor (readonly final: ServiceError, readonly retryAfterMs: number, readonly attemptMs: number) {
    super(final.message)
  }
}

export class AlmaClient implements AlmaReader {
  readonly #origin: string
  readonly #maxConnections: number
  // The cap on calls in flight, held in front of the pool (which has as many
  // connections): a call's time limit starts once it has its turn, so calls
  // waiting behind the cap do not spend it queueing.
  readonly #turns: LimitFunction
  #connections: Promise<Connections> | undefined
  #closed = false
  readonly #basePath: string
  readonly #readApiKey: (deadline: number) => Promise<string>
  readonly #callTimeoutMs: number
  readonly #maxRetries: number
  readonly #retryBaseDelayMs: number
  readonly #pause = new ThresholdPause()

  constructor (options: AlmaClientOptions) {
    const base = new URL(options.baseUrl)
    this.#basePath = base.pathname.replace(/\/+$/, '')
    this.#readApiKey = options.readApiKey
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_ALMA_CALL_TIMEOUT_MS
    this.#maxRetries = options.maxRetries ?? 2
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 250
    this.#origin = base.origin
    this.#maxConnections = options.maxConnections ?? 10
    this.#turns = pLimit(this.#maxConnections)
  }

  // undici is loaded, and the pool opened, on the first Alma call: a Lambda
  // answering from the cache pays for neither on its cold start.
  #pool (): Promise<Connections> {
    // A call still waiting for the key when the app closes must not open a pool nothing will close.
    // (Another instance, or this one restarted, can take the retry.)
    if (this.#closed) return Promise.reject(new UnavailableError(1, SHUTTING_DOWN_MESSAGE))
    this.#connections ??= import('./undici-pool.js').then(({ openPool }) => openPool(this.#origin, {
      connections: this.#maxConnections,
      // A request's abort signal does not reach a connection being made (undici waits for it,
      // 10 s by default): a call is as long as its time limit, in the connecting too.
      connectTimeout: this.#callTimeoutMs,
      headersTimeout: this.#callTimeoutMs,
      bodyTimeout: this.#callTimeoutMs,
      maxResponseSize: MAX_ALMA_BODY_BYTES
    }))
    return this.#connections
  }

  async list (kind: Kind, userID: string, deadline: number): Promise<AlmaRecord[]> {
    const spec = KIND_SPECS[kind]
    const path = `/users/${encodeURIComponent(userID)}/${kind}`
    const query = spec.almaListQuery ?? {}
    if (!spec.almaPaged) {
      // Not paged, yet a list body all the same: one without its total (an error body sent with 200,
      // say), or with no records where its total promises some (as misfitOf holds a page to), is not an empty list.
      const body = await this.#get({ path, query, mode: 'list', deadline })
      const total = totalOf(body, kind)
      const records = onceEach([body], spec)
      if (total > 0 && records.length === 0) throw new AlmaBadGatewayError(`list of ${kind} with no records where its total promises some`)
      return records
    }

    const page: PageReader = (offset, unwanted) =>
      this.#get({ path, query: { ...query, limit: String(ALMA_MAX_PAGE_SIZE), offset: String(offset) }, mode: 'list', deadline, unwanted })
    // A list that did not read whole is read again, a few times at most.
    let misfit = ''
    for (let read = 0; read < MAX_LIST_READS; read++) {
      const result = await this.#readPages(kind, page)
      if ('pages' in result) return onceEach(result.pages, spec)
      misfit = result.misfit
    }
    throw new AlmaBadGatewayError(`list of ${kind} did not read whole on each of ${MAX_LIST_READS} reads (the last: ${misfit})`)
  }

  /**
   * One read of a paged list, following total_record_count, not short pages:
   * after the first page, the others as many at once as there are connections.
   * Its pages, or the page that did not fit the others (see misfitOf); a failed
   * page fails the read. Either way the pages not yet asked for are not: the calls
   * spent, and the work done, follow the pages read, never the total Alma claims.
   */
  async #readPages (kind: Kind, page: PageReader): Promise<{ pages: JsonObject[] } | { misfit: string }> {
    const first = await page(0)
    const total = totalOf(first, kind)
    const pages: JsonObject[] = [first]
    const seen = new Set<unknown>()
    let misfit = misfitOf(first, 0, total, kind, seen)
    let failure: { reason: unknown } | undefined
    const stop = new AbortController()
    let next = ALMA_MAX_PAGE_SIZE
    const readNext = async (): Promise<void> => {
      const offset = next
      next += ALMA_MAX_PAGE_SIZE
      try {
        const body = await page(offset, stop.signal)
        misfit ??= misfitOf(body, offset, total, kind, seen)
        pages[offset / ALMA_MAX_PAGE_SIZE] = body
      } catch (error) {
        // After a stop, a page's failure is only that: it was turned away.
        if (!stop.signal.aborted) failure = { reason: error }
      }
      if (misfit !== undefined || failure !== undefined) stop.abort()
    }
    const morePages = () => !stop.signal.aborted && next < total
    const reader = async (): Promise<void> => {
      while (morePages()) await readNext()
    }
    if (misfit === undefined) {
      // After a short first page (Alma's own shortfall, or a total that does not hold),
      // the next page alone first: a total of a million over a page of three then costs
      // one call more, not one for every connection.
      const short = recordsOf(first, KIND_SPECS[kind].almaListField).length < Math.min(ALMA_MAX_PAGE_SIZE, total)
      if (short && morePages()) await readNext()
      await Promise.all(Array.from({ length: this.#maxConnections }, reader))
    }
    if (failure !== undefined) throw failure.reason
    return misfit === undefined ? { pages } : { misfit }
  }

  async item (kind: Kind, userID: string, itemID: string, deadline: number): Promise<AlmaRecord | undefined> {
    const path = `/users/${encodeURIComponent(userID)}/${kind}/${encodeURIComponent(itemID)}`
    let record: AlmaRecord
    try {
      record = await this.#get({ path, query: {}, mode: 'item', deadline })
    } catch (error) {
      if (error instanceof NotFoundError) return undefined
      throw error
    }
    // A record without its ID is no record (an error body sent with 200, say), not one to pass on as the caller's loan.
    const { idField } = KIND_SPECS[kind]
    if (idOf(record, idField) === undefined) throw new AlmaBadGatewayError(`status 200 with a body that has no ${idField}`)
    // Nor is a record of another ID: another loan (of another user, maybe) passed on as the one asked for.
    if (record[idField] !== itemID) throw new AlmaBadGatewayError(`status 200 with a record whose ${idField} is not the one asked for`)
    return record
  }

  async close (): Promise<void> {
    this.#closed = true
    await (await this.#connections)?.close()
  }

  /**
   * One Alma GET with bounded retries (exponential backoff, full jitter, Retry-After honoured).
   * `refused`: the previous attempt's answer, which stands if this retry is not made in time.
   */
  async #get (call: AlmaGet, attempt = 0, refused?: Retryable): Promise<JsonObject> {
    try {
      return await this.#attempt(call, refused)
    } catch (error) {
      if (!(error instanceof Retryable)) throw error
      // The jitter comes on top of Retry-After: calls refused together (a list's
      // pages) would otherwise all come back in the same second.
      const delay = error.retryAfterMs + Math.random() * this.#retryBaseDelayMs * 2 ** attempt
      // A retry is worth its quota only with time left for an answer: at least
      // what this attempt's call took. Otherwise the refusal stands (a 503 that
      // says when to come back, not a 504). Nor for a call no longer wanted.
      if (attempt >= this.#maxRetries || Date.now() + delay + error.attemptMs >= call.deadline || call.unwanted?.aborted === true) throw error.final
      try {
        await sleep(delay, undefined, { signal: call.unwanted })
      } catch {
        // No longer wanted while waiting.
        throw error.final
      }
      return await this.#get(call, attempt + 1, error)
    }
  }

  async #attempt ({ path, query, mode, deadline, unwanted }: AlmaGet, refused: Retryable | undefined): Promise<JsonObject> {
    // The key first: reading it (from SSM, on a cold start) spends the same budget.
    const apiKey = await this.#readApiKey(deadline)
    const pool = await this.#pool()
    // A retry that waited for its turn past the time it needs (other calls held every
    // connection) is not made: Alma did not fail to answer, it said no, and when to
    // come back; that answer stands, not a 504 (nor a call made too late to be answered).
    const late = (): ServiceError => refused?.final ?? new AlmaTimeoutError()
    // What the refused attempt took; a first attempt needs only some time left at all.
    const needsMs = refused?.attemptMs ?? 0
    await this.#pause.waitOut(deadline - needsMs, refused?.final, unwanted)
    return await this.#inTurn(deadline, late, async () => {
      // A refusal answered while this call waited for its turn holds it too (no other
      // call is made meanwhile, so waiting here keeps no call from its turn; calls
      // already in flight may still answer, hence waitOut's second look).
      await this.#pause.waitOut(deadline - needsMs, refused?.final, unwanted)
      const remainingMs = deadline - Date.now()
      if (remainingMs <= needsMs) throw late()
      const response = await this.#call(pool, apiKey, path, query, remainingMs)
      // Read in the turn: the pause a refusal sets is in force before the next call has its turn.
      try {
        return bodyOrError(response, mode)
      } catch (error) {
        // A per-second refusal pauses for the wait Alma asked for, to the millisecond (none for Retry-After: 0).
        if (error instanceof Retryable && error.final instanceof AlmaThrottledError) this.#pause.after(error.final, error.retryAfterMs)
        else if (error instanceof AlmaThrottledError) this.#pause.after(error)
        throw error
      }
    }, unwanted)
  }

  /**
   * Runs `call` in its turn among the calls in flight (at most maxConnections).
   * A deadline that passes while it waits ends it there, with `late()` (a 504, or
   * the refusal a retry was for) in time, and no call made late (the turn, when it
   * comes, is passed on at once); so does a call no longer wanted when its turn
   * comes. A call made and not over by the deadline is a 504, Alma's lateness: its
   * time limit is cut to the deadline, but undici ends a request still connecting
   * (a TLS handshake that stalls) only when the connection is made or fails.
   */
  #inTurn<T> (deadline: number, late: () => ServiceError, call: () => Promise<T>, unwanted?: AbortSignal): Promise<T> {
    let givenUp = false
    let made = false
    const turn = this.#turns(async () => {
      if (givenUp) throw late()
      if (unwanted !== undefined) {
        // A turn comes as the call before it ends, before the list has seen that call's answer:
        // once it has (within this turn of the event loop), the list may have been lost.
        await new Promise(setImmediate)
        if (unwanted.aborted) throw new AlmaBadGatewayError('call no longer wanted')
      }
      made = true
      return await call()
    })
    return byDeadline(deadline, turn, () => {
      givenUp = true
      return made ? new AlmaTimeoutError() : late()
    })
  }

  /** The HTTP exchange of one attempt, timed from when it has its turn, and over within `remainingMs` (what is left of the budget). */
  async #call (pool: Connections, apiKey: string, path: string, query: Record<string, string>, remainingMs: number): Promise<AlmaResponse> {
    const calls = requestCalls()
    const started = performance.now()
    const line = roundTripLine(calls, 'alma', 'Alma call', { path: withoutIDs(path), ...query })
    if (calls !== undefined) calls.alma++
    let response: Awaited<ReturnType<Connections['request']>>
    let text: string
    try {
      response = await pool.request({
        method: 'GET',
        path: `${this.#basePath}/almaws/v1${path}`,
        query,
        headers: { authorization: `apikey ${apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(Math.min(this.#callTimeoutMs, remainingMs))
      })
      text = await response.body.text()
    } catch (error) {
      line({ error: (error as Error).name })
      throw callFailure(error, performance.now() - started)
    } finally {
      calls?.almaCallMs.push(performance.now() - started)
    }
    line({ status: response.statusCode })
    return { status: response.statusCode, headers: response.headers, text, callMs: performance.now() - started }
  }
}

/** `/users/{userID}/loans/{id}` for a call's path: IDs are personal data, and stay out of the logs. */
const withoutIDs = (path: string): string =>
  path.split('/').map((segment, index) => index === 2 ? '{userID}' : index === 4 ? '{id}' : segment).join('/')

function callFailure (error: unknown, callMs: number): ServiceError | Retryable {
  const name = (error as { name?: unknown }).name
  // (A connection not made within the call's time limit too: undici's connect timeout is set to it.)
  if (name === 'TimeoutError' || name === 'AbortError' || name === 'ConnectTimeoutError' || name === 'HeadersTimeoutError' || name === 'BodyTimeoutError') {
    return new AlmaTimeoutError({ cause: error })
  }
  // An answer, but one too large to be any of Alma's: asked again, it would be as large.
  if (name === 'ResponseExceededMaxSizeError') {
    return new AlmaBadGatewayError(`a body over ${MAX_ALMA_BODY_BYTES} bytes`, { cause: error })
  }
  // Any other failure of the exchange (refused or reset connections, a failed name lookup
  // or TLS handshake): Alma, or the way to it, is down for now; retried as a 5xx is.
  return new Retryable(new AlmaUnreachableError({ cause: error }), 0, callMs)
}

function recordsOf (body: JsonObject, listField: string): AlmaRecord[] {
  // alma-api.md: with zero records the list key may be absent altogether.
  const records = body[listField] ?? []
  if (!Array.isArray(records) || !records.every(isJsonObject)) {
    throw new AlmaBadGatewayError(`list body whose ${listField} is not an array of objects`)
  }
  return records
}

function firstAlmaError (body: unknown): AlmaError | undefined {
  if (!isJsonObject(body) || body.errorsExist !== true) return undefined
  const errors = (body.errorList as { error?: unknown } | undefined)?.error
  const first: unknown = Array.isArray(errors) ? errors[0] : errors
  return isJsonObject(first) ? first : {}
}

/**
 * The first error of an XML error body (Alma's web_service_result), as firstAlmaError
 * reads a JSON one. Alma's gateway may refuse a call over a threshold in XML whatever
 * Accept asked for; read as no error at all, a DAILY_THRESHOLD would be retried and its
 * callers told to come back in a second.
 */
function xmlAlmaError (text: string): AlmaError | undefined {
  if (!text.trimStart().startsWith('<') || !/<errorsExist>\s*true\s*<\/errorsExist>/.test(text)) return undefined
  const errorCode = /<errorCode>([^<]*)<\/errorCode>/.exec(text)?.[1]?.trim()
  return errorCode === undefined || errorCode === '' ? {} : { errorCode }
}

/**
 * The form of Alma's error codes: numbers (401861) and upper-case names
 * (PER_SECOND_THRESHOLD). The field is an upstream body's, and goes into the log;
 * anything else there is not Alma's code, and is read as none.
 */
const ALMA_ERROR_CODE = /^[A-Z0-9_]{1,64}$/

/** A record's ID; undefined when it has none (missing or null). */
const idOf = (record: AlmaRecord, idField: string): unknown => record[idField] ?? undefined

/**
 * Alma's answer, read: the body of a 200, or the error it means (retryable or
 * not). Alma's errors arrive as 400, sometimes 401, 403 or 404: their codes say
 * what they mean (alma-api.md). An item's NotFoundError is the client's own
 * signal (item() answers undefined for it), never a caller's message.
 */
function bodyOrError ({ status, headers, text, callMs }: AlmaResponse, mode: CallMode): JsonObject {
  const body = parseJSON(text)

  if (status === 200) {
    if (!isJsonObject(body)) throw new AlmaBadGatewayError(`status 200 with a body that is not a JSON object (${text.length} bytes)`)
    if (!nestsWithin(text, MAX_ALMA_BODY_DEPTH)) throw new AlmaBadGatewayError(`status 200 with a body nested over ${MAX_ALMA_BODY_DEPTH} levels deep`)
    return body
  }
  const almaError = firstAlmaError(body) ?? xmlAlmaError(text)
  const code = typeof almaError?.errorCode === 'string' && ALMA_ERROR_CODE.test(almaError.errorCode) ? almaError.errorCode : undefined
  const retryAfterMs = parseRetryAfter(headers['retry-after'])

  if (status === 429 || (code !== undefined && THRESHOLD_CODES.has(code))) {
    if (code === DAILY_THRESHOLD) {
      // Alma's own time when it gives one; "now" (0, or a date gone by) cannot be true of a day's quota.
      const seconds = retryAfterMs !== undefined && retryAfterMs >= 1000 ? Math.ceil(retryAfterMs / 1000) : DAILY_THRESHOLD_RETRY_AFTER_SECONDS
      throw new AlmaThrottledError(seconds, code)
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((retryAfterMs ?? THRESHOLD_WINDOW_MS) / 1000))
    // Alma counts calls a second: retried sooner than the next second, a call
    // would most likely meet the threshold again, and spend quota doing so.
    throw new Retryable(new AlmaThrottledError(retryAfterSeconds, code), retryAfterMs ?? THRESHOLD_WINDOW_MS, callMs)
  }
  if (status >= 500) {
    throw new Retryable(new AlmaBadGatewayError(`status ${status}${code === undefined ? '' : ` code ${code}`}`), retryAfterMs ?? 0, callMs)
  }
  const keyRefused = () => new AlmaKeyRefusedError(`Alma refused the API key or its permissions (status ${status}, code ${code ?? 'none'}); check the key`)
  if (code !== undefined && KEY_ERROR_CODES.has(code)) throw keyRefused()
  if (code !== undefined && (mode === 'item' ? ITEM_NOT_FOUND_CODES : USER_NOT_FOUND_CODES).has(code) && status >= 400 && status < 500) {
    throw new NotFoundError(mode === 'item' ? 'not found' : USER_NOT_FOUND_MESSAGE)
  }
  if (status === 401 || status === 403) throw keyRefused()
  if (almaError !== undefined && mode === 'item' && (status === 400 || status === 404)) throw new NotFoundError('not found')
  throw new AlmaBadGatewayError(`unexpected status ${status}${code === undefined ? '' : ` code ${code}`}`)
}

/** One page of a paged list, at `offset`; `unwanted` turns it away once the read is lost. */
type PageReader = (offset: number, unwanted?: AbortSignal) => Promise<JsonObject>

/** A list's records from its pages; a record twice on one page (a page is one answer: nothing moved) is kept once. */
function onceEach (pages: readonly JsonObject[], spec: KindSpec): AlmaRecord[] {
  const kept = new Set<unknown>()
  return pages.flatMap((body) => recordsOf(body, spec.almaListField)).filter((record) => {
    const id = idOf(record, spec.idField)
    if (id === undefined) return true
    if (kept.has(id)) return false
    kept.add(id)
    return true
  })
}

function totalOf (body: JsonObject | undefined, kind: Kind): number {
  const total = body?.total_record_count
  if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) {
    throw new AlmaBadGatewayError(`list of ${kind} without a usable total_record_count`)
  }
  return total
}

/**
 * Why a page does not fit the list's other pages, if it does not: another total,
 * or a record read on another page (the list changed while it was read: records
 * moved across pages, which a total alone does not show when one loan was made
 * and another returned). Offset paging cannot show every such change: a record
 * moving back onto a page already read leaves no trace (docs/architecture.md). No
 * records where the total promises some, or none with an ID after the first page
 * (an answer gone wrong: a total of a million over a page of three, the same page
 * whatever the offset). A page with fewer records than it could hold is not a
 * misfit: a short page is what Alma has, and the pages after it are read all the
 * same. `seen` collects the IDs of the pages read so far.
 */
function misfitOf (body: JsonObject, offset: number, total: number, kind: Kind, seen: Set<unknown>): string | undefined {
  const pageTotal = totalOf(body, kind)
  if (pageTotal !== total) return `its total went from ${total} to ${pageTotal}`
  const { almaListField, idField } = KIND_SPECS[kind]
  const records = recordsOf(body, almaListField)
  if (offset < total && records.length === 0) return `no records at offset ${offset} of ${total}`
  const ids = new Set(records.map((record) => idOf(record, idField)).filter((id) => id !== undefined))
  if (offset > 0 && ids.size === 0) return `no record IDs at offset ${offset}`
  for (const id of ids) {
    if (seen.has(id)) return `a record already read, at offset ${offset}`
  }
  for (const id of ids) seen.add(id)
  return undefined
}

// Retry-After (RFC 9110 10.2.3): delta-seconds, or an HTTP-date (5.6.7) in one of
// its three forms, all in GMT: IMF-fixdate and RFC 850 say so, asctime does not
// (and Date.parse would read it in the process's time zone). Anything else is ignored.
const DELTA_SECONDS = /^\d+$/
const IMF_OR_RFC850_DATE = /^[A-Z][a-z]{2,8}, \d{2}[ -][A-Z][a-z]{2}[ -]\d{2}(?:\d{2})? \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/
// No threshold of Alma's lasts longer than its daily one; callers are handed the figure as it is.
const LONGEST_RETRY_AFTER_MS = 86_400_000

/** Retry-After in milliseconds from now, a day at most. */
export function parseRetryAfter (value: string | string[] | undefined): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim()
  if (text === undefined) return undefined
  let ms: number
  if (DELTA_SECONDS.test(text)) {
    ms = Number(text) * 1000
  } else if (IMF_OR_RFC850_DATE.test(text) || ASCTIME_DATE.test(text)) {
    const date = Date.parse(ASCTIME_DATE.test(text) ? `${text} GMT` : text)
    if (Number.isNaN(date)) return undefined
    ms = msUntil(date)
  } else {
    return undefined
  }
  return Math.min(ms, LONGEST_RETRY_AFTER_MS)
}

/** Whether a JSON text (one JSON.parse took) nests its arrays and objects no deeper than `maxDepth`; brackets inside strings do not count. */
function nestsWithin (text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (inString) {
      // A backslash escapes the next character, a quote among them.
      if (char === '\\') i++
      else if (char === '"') inString = false
    } else if (char === '"') {
      inString = true
    } else if (char === '[' || char === '{') {
      if (++depth > maxDepth) return false
    } else if (char === ']' || char === '}') {
      depth--
    }
  }
  return true
}

function parseJSON (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
