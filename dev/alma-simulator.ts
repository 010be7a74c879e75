import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import type { AlmaRecord, JsonObject } from '../src/resolution/kinds.js'

// A stand-in for Ex Libris Alma's Users API, speaking the HTTP behaviour of
// shared/alma-api.md: the key check, JSON only on request, paging (default 10,
// at most 100) with total_record_count, list keys absent when empty, loans'
// `renewable` only with expand=renewable, Alma's error bodies and codes, faults on
// demand (429, 5xx, silence, latency), and, when asked, the per-second and daily thresholds.

export interface SimulatedUser {
  primary_id: string
  loans?: AlmaRecord[]
  requests?: AlmaRecord[]
  fees?: AlmaRecord[]
}

export interface AlmaCall {
  method: string
  path: string
  query: Record<string, string>
  status: number
  /** performance.now() when the call arrived and when its answer was sent */
  startedAt: number
  endedAt: number
}

export interface InjectedFault {
  status: number
  retryAfter?: string
  /** raw body, sent as text/plain; default: an Alma error body fitting the status */
  body?: string
  errorCode?: string
  /** only calls whose path matches take this fault (default: any call) */
  path?: RegExp
}

const PER_SECOND_MESSAGE = 'HTTP requests are more than allowed per second'
const THRESHOLD_MESSAGES: Record<string, string> = {
  PER_SECOND_THRESHOLD: PER_SECOND_MESSAGE,
  DAILY_THRESHOLD: 'Daily API Request Threshold has been reached'
}

/** Alma's per-second threshold for an institution (alma-api.md: about 25 calls a second). */
export const ALMA_CALLS_PER_SECOND = 25

export interface AlmaSimulatorOptions {
  apiKey: string
  latencyMs?: number
  /** the per-second threshold past which calls get 429 PER_SECOND_THRESHOLD (Alma's is ALMA_CALLS_PER_SECOND); off unless set */
  callsPerSecond?: number
  /** the daily threshold: past this many calls in the simulator's day (see newDay), every call gets 429 DAILY_THRESHOLD; off unless set */
  callsPerDay?: number
  host?: string
  port?: number
}

type ListKind = 'loans' | 'requests' | 'fees'
// Alma's lists hold what is active (its loan_status=Active and status=ACTIVE
// defaults; requests are left as they are here), where the item calls find a
// returned loan or a paid fee as well.
const ACTIVE: Record<ListKind, (record: AlmaRecord) => boolean> = {
  loans: (loan) => loan.loan_status === undefined || loan.loan_status === 'ACTIVE',
  requests: () => true,
  fees: (fee) => (fee.status as { value?: unknown } | undefined)?.value === undefined || (fee.status as { value?: unknown }).value === 'ACTIVE'
}

// As Alma does, a loan's `renewable` is worked out only when asked for (the loans list's expand=renewable).
const withoutRenewable = ({ renewable: _renewable, ...loan }: AlmaRecord): AlmaRecord => loan
const LIST_FIELD: Record<ListKind, string> = { loans: 'item_loan', requests: 'user_request', fees: 'fee' }
const ID_FIELD: Record<ListKind, string> = { loans: 'loan_id', requests: 'request_id', fees: 'id' }
// The fee calls say "identifier not found" of an unknown user; the others name the user.
const userWithIdentifierNotFound: [string, (userId: string) => string] = ['401861', (userId) => `User with identifier ${userId} was not found.`]
const USER_NOT_FOUND: Record<ListKind, [string, (userId: string) => string]> = {
  loans: userWithIdentifierNotFound,
  requests: userWithIdentifierNotFound,
  fees: ['401651', () => 'Identifier not found']
}
const ITEM_NOT_FOUND: Record<ListKind, [string, string]> = {
  loans: ['401823', 'Loan ID does not exist'],
  requests: ['401907', 'No request found for the given request ID'],
  fees: ['401665', 'Fine not found']
}

class AlmaAnswer extends Error {
  constructor (readonly status: number, readonly errorCode: string, readonly errorMessage: string) {
    super(errorMessage)
  }
}

export class AlmaSimulator {
  latencyMs: number
  callsPerSecond: number | undefined
  callsPerDay: number | undefined
  readonly calls: AlmaCall[] = []
  /** the most calls in progress at once since the last resetCalls() */
  maxConcurrentCalls = 0
  #inProgress = 0
  readonly #users = new Map<string, SimulatedUser>()
  readonly #faults: Array<InjectedFault | 'hang'> = []
  readonly #pending = new Set<NodeJS.Timeout>()
  readonly #apiKey: string
  readonly #server = Fastify({ logger: false, forceCloseConnections: true, routerOptions: { maxParamLength: 1000 } })
  #url = ''
  #trackingId = 0
  /** calls past the key check since the simulator's day began, refused ones too */
  #callsToday = 0

  private constructor (options: AlmaSimulatorOptions) {
    this.#apiKey = options.apiKey
    this.latencyMs = options.latencyMs ?? 0
    this.callsPerSecond = options.callsPerSecond
    this.callsPerDay = options.callsPerDay
    for (const kind of ['loans', 'requests', 'fees'] as const) {
      this.#server.get(`/almaws/v1/users/:userId/${kind}`, (request, reply) => this.#answer(request, reply, () => this.#list(kind, request)))
      this.#server.get(`/almaws/v1/users/:userId/${kind}/:itemId`, (request, reply) => this.#answer(request, reply, () => this.#item(kind, request)))
    }
    this.#server.setNotFoundHandler((request, reply) => this.#answer(request, reply, () => {
      throw new AlmaAnswer(400, '401652', 'General Error - An error has occurred while processing the request.')
    }))
  }

  static async start (options: AlmaSimulatorOptions): Promise<AlmaSimulator> {
    const simulator = new AlmaSimulator(options)
    await simulator.#server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
    const { address, port } = simulator.#server.server.address() as AddressInfo
    simulator.#url = `http://${address}:${port}`
    return simulator
  }

  /** base URL; the client appends /almaws/v1/... */
  get url (): string { return this.#url }

  callsTo (pathPrefix: string): AlmaCall[] {
    return this.calls.filter((call) => call.path.startsWith(pathPrefix))
  }

  /** The simulator's day ends: the daily threshold counts afresh. */
  newDay (): void { this.#callsToday = 0 }

  resetCalls (): void {
    this.calls.length = 0
    this.maxConcurrentCalls = this.#inProgress
  }

  addUser (user: SimulatedUser): void { this.#users.set(user.primary_id.toLowerCase(), user) }

  removeUser (primaryId: string): void { this.#users.delete(primaryId.toLowerCase()) }

  clear (): void {
    this.#users.clear()
    this.clearFaults()
    this.resetCalls()
  }

  /** The next `count` requests that pass the key check (and match `fault.path`) answer with this fault. */
  injectFaults (count: number, fault: InjectedFault): void {
    for (let i = 0; i < count; i++) this.#faults.push(fault)
  }

  /** The next `count` requests never answer (until close). */
  hang (count: number): void {
    for (let i = 0; i < count; i++) this.#faults.push('hang')
  }

  clearFaults (): void { this.#faults.length = 0 }

  async close (): Promise<void> {
    for (const timer of this.#pending) clearTimeout(timer)
    this.#pending.clear()
    await this.#server.close()
  }

  async #answer (request: FastifyRequest, reply: FastifyReply, work: () => JsonObject): Promise<FastifyReply | undefined> {
    const [path = ''] = request.url.split('?')
    const call: AlmaCall = { method: request.method, path, query: { ...(request.query as Record<string, string>) }, status: 0, startedAt: performance.now(), endedAt: Number.NaN }
    this.calls.push(call)
    this.#inProgress++
    this.maxConcurrentCalls = Math.max(this.maxConcurrentCalls, this.#inProgress)
    reply.raw.once('close', () => {
      this.#inProgress--
      call.endedAt = performance.now()
    })
    if (this.latencyMs > 0) await this.#sleep(this.latencyMs)

    let status = 200
    let body: JsonObject
    try {
      // alma-api.md: the header, or the apikey query parameter.
      if (request.headers.authorization !== `apikey ${this.#apiKey}` && (request.query as Record<string, unknown>).apikey !== this.#apiKey) {
        throw new AlmaAnswer(401, 'UNAUTHORIZED', 'API-key not defined or not configured to allow this API.')
      }
      if (this.callsPerDay !== undefined && ++this.#callsToday > this.callsPerDay) return this.#sendFault(call, reply, { status: 429, errorCode: 'DAILY_THRESHOLD' })
      if (this.#overThreshold(call)) return this.#sendFault(call, reply, { status: 429, errorCode: 'PER_SECOND_THRESHOLD' })
      const fault = this.#takeFault(path)
      if (fault === 'hang') {
        call.status = -1
        return reply.hijack() // the socket stays open, unanswered, until close()
      }
      if (fault !== undefined) return this.#sendFault(call, reply, fault)
      body = work()
    } catch (error) {
      if (!(error instanceof AlmaAnswer)) throw error
      status = error.status
      body = this.#errorBody(error.errorCode, error.errorMessage)
    }
    call.status = status
    return this.#send(request, reply, status, body)
  }

  #takeFault (path: string): InjectedFault | 'hang' | undefined {
    const index = this.#faults.findIndex((fault) => fault === 'hang' || fault.path?.test(path) !== false)
    return index === -1 ? undefined : this.#faults.splice(index, 1)[0]
  }

  /**
   * More calls than the per-second threshold arrived in the second up to this one (every call counts, refused ones too).
   * Judged when the call has waited out its latency: the calls that arrived meanwhile came after it, and do not count against it.
   */
  #overThreshold (call: AlmaCall): boolean {
    if (this.callsPerSecond === undefined) return false
    const windowStart = call.startedAt - 1000
    return this.calls.slice(0, this.calls.indexOf(call) + 1).filter((other) => other.startedAt > windowStart).length > this.callsPerSecond
  }

  #sendFault (call: AlmaCall, reply: FastifyReply, fault: InjectedFault): FastifyReply {
    call.status = fault.status
    if (fault.retryAfter !== undefined) reply.header('retry-after', fault.retryAfter)
    reply.code(fault.status)
    if (fault.body !== undefined) return reply.type('text/plain').send(fault.body)
    const code = fault.errorCode ?? (fault.status === 429 ? 'PER_SECOND_THRESHOLD' : 'INTERNAL_SERVER_ERROR')
    const message = THRESHOLD_MESSAGES[code] ?? (fault.status === 429 ? PER_SECOND_MESSAGE : 'Internal server error')
    return reply.type('application/json').send(JSON.stringify(this.#errorBody(code, message)))
  }

  #send (request: FastifyRequest, reply: FastifyReply, status: number, body: JsonObject): FastifyReply {
    reply.code(status)
    const query = request.query as Record<string, string>
    if (String(request.headers.accept).includes('application/json') || query.format === 'json') {
      return reply.type('application/json').send(JSON.stringify(body))
    }
    // Without asking for JSON, Alma answers XML: its errors as web_service_result, with their codes.
    const xml = body.errorsExist === true
      ? `<web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans"><errorsExist>true</errorsExist><errorList>${xmlErrors(body)}</errorList><result/></web_service_result>`
      : `<web_service_result total_record_count="${String(body.total_record_count ?? '')}"/>`
    return reply.type('application/xml').send(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>${xml}`)
  }

  #user (kind: ListKind, request: FastifyRequest): SimulatedUser {
    const { userId } = request.params as { userId: string }
    const user = this.#users.get(userId.toLowerCase())
    if (user === undefined) {
      const [code, message] = USER_NOT_FOUND[kind]
      throw new AlmaAnswer(400, code, message(userId))
    }
    return user
  }

  #list (kind: ListKind, request: FastifyRequest): JsonObject {
    const records = (this.#user(kind, request)[kind] ?? []).filter(ACTIVE[kind])
    const body: JsonObject = { total_record_count: records.length }
    let page = records
    if (kind === 'fees') {
      body.total_sum = records.reduce((sum, fee) => sum + (typeof fee.balance === 'number' ? fee.balance : 0), 0)
      body.currency = 'GBP'
    } else {
      const query = request.query as Record<string, string | undefined>
      const limit = integerParameter(query.limit, 10, 100)
      const offset = integerParameter(query.offset, 0, Number.MAX_SAFE_INTEGER)
      page = records.slice(offset, offset + limit)
      if (kind === 'loans' && !String(query.expand).split(',').includes('renewable')) page = page.map(withoutRenewable)
    }
    // With no records on the page, Alma leaves the list key out altogether.
    return page.length === 0 ? body : { [LIST_FIELD[kind]]: page, ...body }
  }

  #item (kind: ListKind, request: FastifyRequest): AlmaRecord {
    const user = this.#user(kind, request)
    const { itemId } = request.params as { itemId: string }
    const record = (user[kind] ?? []).find((candidate) => candidate[ID_FIELD[kind]] === itemId)
    // Alma's single-loan call takes no parameters, so no expand=renewable either.
    if (record !== undefined) return kind === 'loans' ? withoutRenewable(record) : record
    // Real Alma sometimes reports a missing item as "General Error"; IDs starting
    // with g get that answer here, so that tests can ask for it deterministically.
    if (/^g/i.test(itemId)) throw new AlmaAnswer(400, '401652', 'General Error - An error has occurred while processing the request.')
    const [code, message] = ITEM_NOT_FOUND[kind]
    throw new AlmaAnswer(400, code, message)
  }

  #errorBody (errorCode: string, errorMessage: string): JsonObject {
    this.#trackingId++
    return {
      errorsExist: true,
      errorList: { error: [{ errorCode, errorMessage, trackingId: `E01-SIM-${this.#trackingId}` }] },
      result: null
    }
  }

  #sleep (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(timer)
        resolve()
      }, ms)
      this.#pending.add(timer)
    })
  }
}

function integerParameter (text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || value > max) throw new AlmaAnswer(400, '401666', `Invalid parameter value: ${text}`)
  return value
}

const xmlText = (value: unknown): string =>
  String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function xmlErrors (body: JsonObject): string {
  const { error } = body.errorList as { error: JsonObject[] }
  return error.map(({ errorCode, errorMessage, trackingId }) =>
    `<error><errorCode>${xmlText(errorCode)}</errorCode><errorMessage>${xmlText(errorMessage)}</errorMessage><trackingId>${xmlText(trackingId)}</trackingId></error>`).join('')
}
