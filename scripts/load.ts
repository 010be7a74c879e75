// npm run load: the built server (`node dist/server.js`) under bounded load, on
// embedded defaults. Not a test and not part of `npm test`: it takes a few minutes.
//
// This process builds dist/, starts the embedded stack (dynalite, fauxqs, the
// Alma simulator) and seeds it, runs the server as a child on loopback with the
// stack's CONTRACT 5 variables only, and drives it with autocannon: 50
// connections, 30 s a round, three rounds of each of two paths:
//
//   hit    fully cached users and their lists and items; every answer must be a
//          200 with X-Cache: hit, and Alma must not be called nor anyone queued
//   mixed  cache hits, users only in Alma (miss, queued), users whose cache
//          records expired (miss, queued), a user with 145 loans (Alma pages),
//          malformed identifiers (400) and unknown users and items (404)
//
// Every response is checked against what the contract says for that request
// (status, X-Cache, the record IDs and list lengths in the body). A run fails
// (exit 1) on any transport error or timeout, any unexpected answer (on the
// hit path that is any non-2xx), any warn/error line the server logs, the
// server dying or not stopping cleanly, or RSS growth beyond RSS_GROWTH_BOUND_MIB.
//
// LOAD_DURATION_S (default 30) shortens the rounds for a quick look at the
// script itself; figures worth quoting come from the default.

import { spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs'
import autocannon, { type Instance, type Request, type Result } from 'autocannon'
import { almaUserRecords, DAY, type AlmaUserRecords } from '../dev/demo-records.js'
import { seedRecords } from '../dev/demo-users.js'
import { startEmbeddedStack, type EmbeddedStack } from '../dev/embedded-stack.js'
import { KIND_SPECS, KINDS, type Kind } from '../src/resolution/kinds.js'

const CONNECTIONS = 50
const DURATION_S = positiveInteger(process.env.LOAD_DURATION_S, 30)
const ROUNDS = 3
const TIMEOUT_S = 10
/** per Alma call, in the simulator: a fast Alma, so that misses cost Alma's share only */
const ALMA_LATENCY_MS = 10

// RSS growth bound, per path: RSS after its third round minus RSS after its
// first. The first round is the warm-up: JIT, V8's heap sized to the working
// set, connection pools to DynamoDB, SQS and Alma, glibc arenas for 50 sockets.
// Rounds 2 and 3 repeat exactly the same work, so a server in a steady state
// stays put but for GC timing: the young generation alone is two semi-spaces
// of up to 16 MiB each on 64-bit, and old-space garbage waits for the next
// mark-compact. On the 2-core machine of the README, healthy runs swung by up
// to 35 MiB between rounds, either way; 64 MiB is about twice that, and still
// catches a leak of some 2 KiB a request, since rounds 2 and 3 together are
// over 30 000 requests there (the report prints each path's exact threshold).
const RSS_GROWTH_BOUND_MIB = 64

// A field each record of a kind carries exactly once, and records of the other kinds never.
const MARKER: Record<Kind, string> = { loans: '"loan_id":', requests: '"request_id":', fees: '"original_vat_amount":' }

// ---------------------------------------------------------------- the users

interface LoadUser { userID: string, records: AlmaUserRecords }

const user = (userID: string, loans: number, requests: number, fees: number): LoadUser =>
  ({ userID, records: almaUserRecords(userID, { loans, requests, fees }) })
const numbered = (prefix: string, count: number, make: (userID: string) => LoadUser) =>
  Array.from({ length: count }, (_, i) => make(`${prefix}-${String.fromCharCode(97 + i)}`))

/** fully cached and valid; in Alma too, so a needless Alma call would still succeed (and be counted) */
const cachedUsers = numbered('load-hit', 20, (id) => user(id, 4, 2, 2))
/** cached, with more loans than one BatchGetItem takes */
const bigCachedUser = user('load-hit-many', 150, 5, 3)
/** no cache record: served from Alma, queued */
const almaOnlyUsers = numbered('load-miss', 8, (id) => user(id, 3, 1, 1))
/** 145 loans in Alma only: two pages */
const pagedUser = user('load-paged', 145, 23, 4)
/** cache records expired a day ago: served from Alma, queued */
const expiredUsers = numbered('load-expired', 4, (id) => user(id, 2, 1, 1))

async function seed (stack: EmbeddedStack): Promise<void> {
  const everyone = [...cachedUsers, bigCachedUser, ...almaOnlyUsers, pagedUser, ...expiredUsers]
  // Two users sharing a record ID would overwrite each other's cache rows and turn hits into misses.
  const owners = new Map<string, string>()
  for (const { userID, records } of everyone) {
    for (const kind of KINDS) {
      for (const row of records[kind]) {
        const id = `${kind} ${String(row[KIND_SPECS[kind].idField])}`
        const owner = owners.get(id)
        if (owner !== undefined && owner !== userID) throw new Error(`${owner} and ${userID} share the record ID ${id}; rename one`)
        owners.set(id, userID)
      }
    }
  }
  for (const { userID, records } of [...almaOnlyUsers, pagedUser]) await seedRecords(stack, userID, records)
  for (const { userID, records } of [...cachedUsers, bigCachedUser]) await seedRecords(stack, userID, records, 30 * DAY)
  for (const { userID, records } of expiredUsers) await seedRecords(stack, userID, records, -DAY)
}

// ---------------------------------------------------------------- what to ask, what to expect

type Category = 'hit' | 'miss' | 'expired' | 'invalid (400)' | 'unknown (404)'

interface Expected {
  path: string
  category: Category
  status: 200 | 400 | 404
  /** X-Cache of a 200 */
  cache?: 'hit' | 'miss'
  /** true when the body is right */
  body: (body: string) => boolean
}

const count = (text: string, marker: string) => text.split(marker).length - 1
const ofAll = (records: AlmaUserRecords) => (body: string) => KINDS.every((kind) => count(body, MARKER[kind]) === records[kind].length)

function summary ({ userID, records }: LoadUser, category: Category, cache: 'hit' | 'miss'): Expected {
  return {
    path: `/users/${userID}`,
    category,
    status: 200,
    cache,
    body: (body) => body.includes(`"primary_id":"${userID}"`) && ofAll(records)(body)
  }
}

function list ({ userID, records }: LoadUser, kind: Kind, category: Category, cache: 'hit' | 'miss'): Expected {
  return {
    path: `/users/${userID}/${kind}`,
    category,
    status: 200,
    cache,
    body: (body) => body.startsWith('[') && KINDS.every((other) => count(body, MARKER[other]) === (other === kind ? records[kind].length : 0))
  }
}

function item ({ userID, records }: LoadUser, kind: Kind, n: number, category: Category, cache: 'hit' | 'miss'): Expected {
  const id = String(records[kind][n % records[kind].length]?.[KIND_SPECS[kind].idField])
  return {
    path: `/users/${userID}/${kind}/${id}`,
    category,
    status: 200,
    cache,
    body: (body) => body.includes(`"${KIND_SPECS[kind].idField}":"${id}"`) && count(body, MARKER[kind]) === 1
  }
}

function refused (path: string, status: 400 | 404): Expected {
  return {
    path,
    category: status === 400 ? 'invalid (400)' : 'unknown (404)',
    status,
    body: (body) => body.includes(`"statusCode":${status}`)
  }
}

/** every endpoint of a user: the summary, three lists, one item of each kind */
function everything (who: LoadUser, category: Category, cache: 'hit' | 'miss', n = 0): Expected[] {
  return [
    summary(who, category, cache),
    ...KINDS.map((kind) => list(who, kind, category, cache)),
    ...KINDS.map((kind) => item(who, kind, n, category, cache))
  ]
}

// Seven GETs per cached user, plus the big user's summary and loans: 142 requests a cycle.
const hitPath: Expected[] = [
  ...cachedUsers.flatMap((who, n) => everything(who, 'hit', 'hit', n)),
  summary(bigCachedUser, 'hit', 'hit'),
  list(bigCachedUser, 'loans', 'hit', 'hit')
]

// One cycle, about half hits, a quarter misses (expired included), a quarter refused.
const endpointOf = (who: LoadUser, n: number, category: Category, cache: 'hit' | 'miss'): Expected => everything(who, category, cache, n)[n % 7] as Expected
const mixedPath: Expected[] = interleave([
  ...cachedUsers.map((who, n) => endpointOf(who, n, 'hit', 'hit')),
  ...almaOnlyUsers.map((who, n) => endpointOf(who, n, 'miss', 'miss')),
  list(pagedUser, 'loans', 'miss', 'miss'),
  ...expiredUsers.map((who, n) => endpointOf(who, n * 2, 'expired', 'miss')),
  refused('/users/bad!id', 400),
  refused(`/users/${'a'.repeat(256)}`, 400),
  refused('/users/..', 400),
  refused('/users/-_-/fees', 400),
  refused('/users/load-hit-a/loans/bad*id', 400),
  refused(`/users/load-hit-a/fees/${'f'.repeat(65)}`, 400),
  refused('/users/load-nobody-01', 404),
  refused('/users/load-nobody-02/loans', 404),
  refused('/users/load-nobody-03/requests/1400001', 404),
  refused('/users/load-hit-b/loans/99999999', 404),
  refused('/users/load-miss-b/fees/35000999', 404)
])

/** a fixed shuffle, so that each kind of request is spread over the cycle */
function interleave<T> (items: T[]): T[] {
  const out = [...items]
  let seed = 7
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const j = seed % (i + 1)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

// ---------------------------------------------------------------- checking answers

interface Tally {
  checked: number
  unexpected: number
  samples: string[]
  byCategory: Map<Category, number>
  byCache: Map<string, number>
}

const newTally = (): Tally => ({ checked: 0, unexpected: 0, samples: [], byCategory: new Map(), byCache: new Map() })
const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)

function header (headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(',') : value
  return undefined
}

/** the mismatch, or undefined when the answer is the expected one */
function mismatch (expected: Expected, status: number, body: string, headers: Record<string, string | string[]>): string | undefined {
  const cache = header(headers, 'x-cache')
  if (status !== expected.status) return `status ${status}, expected ${expected.status}`
  if (expected.cache !== undefined && cache !== expected.cache) return `X-Cache ${cache ?? '(none)'}, expected ${expected.cache}`
  if (header(headers, 'cache-control') !== 'no-store') return 'no Cache-Control: no-store'
  if (!expected.body(body)) return 'unexpected body'
  return undefined
}

function record (tally: Tally, expected: Expected, status: number, body: string, headers: Record<string, string | string[]>): void {
  tally.checked++
  bump(tally.byCategory, expected.category)
  bump(tally.byCache, header(headers, 'x-cache') ?? '-')
  const wrong = mismatch(expected, status, body, headers)
  if (wrong === undefined) return
  tally.unexpected++
  if (tally.samples.length < 5) tally.samples.push(`GET ${expected.path}: ${wrong}: ${body.slice(0, 200)}`)
}

function autocannonRequests (path: Expected[], tally: Tally): Request[] {
  return path.map((expected) => ({
    method: 'GET',
    path: expected.path,
    onResponse: (status, body, _context, headers) => record(tally, expected, status, body, headers)
  }))
}

// ---------------------------------------------------------------- the server

interface ServerLog { lines: number, byMessage: Map<string, number>, tail: string[] }

interface RunningServer {
  child: ChildProcess
  base: string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  log: ServerLog
  stderr: () => string
}

function startServer (env: Record<string, string>, port: number): RunningServer {
  const child = spawn(process.execPath, ['dist/server.js'], {
    // Embedded defaults and nothing else from this shell: the run does not depend on who starts it.
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  const log: ServerLog = { lines: 0, byMessage: new Map(), tail: [] }
  let partial = ''
  // Drain stdout (pino, one JSON object a line) as it comes, or the child would block on a full pipe.
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      log.lines++
      bump(log.byMessage, messageOf(line))
      log.tail.push(line.slice(0, 500))
      if (log.tail.length > 10) log.tail.shift()
    }
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000) })
  return { child, base: `http://127.0.0.1:${port}`, exited, log, stderr: () => stderr }
}

function messageOf (line: string): string {
  try {
    const { level, msg } = JSON.parse(line) as { level?: number, msg?: string }
    return `${level === 40 ? 'warn' : level === 50 ? 'error' : level === 60 ? 'fatal' : `level ${level}`}: ${msg}`
  } catch {
    return `(not JSON) ${line.slice(0, 100)}`
  }
}

const isRunning = (server: RunningServer) => server.child.exitCode === null && server.child.signalCode === null

/** SIGTERM, then the server's own 10 s grace and a little more, then SIGKILL. */
async function stopServer (server: RunningServer): Promise<string | undefined> {
  if (!isRunning(server)) {
    const { code, signal } = await server.exited
    return `the server had already exited (code ${code}, signal ${signal})`
  }
  server.child.kill('SIGTERM')
  const stopped = await Promise.race([server.exited, sleep(15_000).then(() => undefined)])
  if (stopped === undefined) {
    server.child.kill('SIGKILL')
    await server.exited
    return 'the server did not exit within 15 s of SIGTERM (killed)'
  }
  return stopped.code === 0 ? undefined : `the server exited with code ${stopped.code}, signal ${stopped.signal} on SIGTERM`
}

async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', resolve)
  })
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

interface Answer { status: number, headers: Record<string, string | string[]>, body: string }

function fetchOnce (base: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // node:http sends the path as written (a URL parser would resolve `..`), on a fresh connection.
    const request = get({ host: '127.0.0.1', port: new URL(base).port, path, agent: false, timeout: 10_000 }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
      response.on('end', () => {
        const headers: Record<string, string | string[]> = {}
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = value
        resolve({ status: response.statusCode ?? 0, headers, body })
      })
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer in 10 s`)))
    request.on('error', reject)
  })
}

async function waitUntilReady (server: RunningServer): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    if (!isRunning(server)) throw new Error(`the server exited while starting: ${server.stderr().trim() || server.log.tail.join('\n')}`)
    try {
      const { status } = await fetchOnce(server.base, `/users/${cachedUsers[0]?.userID}`)
      if (status === 200) return
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the server did not answer within 20 s: ${server.stderr().trim()}`)
    await sleep(100)
  }
}

/** VmRSS and VmHWM (peak) in MiB from /proc on Linux; `ps` elsewhere (no peak); undefined when neither works. */
function memoryOf (pid: number | undefined): { rss?: number, peak?: number } {
  if (pid === undefined) return {}
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1])
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
  } catch { /* not Linux */ }
  try {
    const kib = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim())
    return Number.isFinite(kib) && kib > 0 ? { rss: kib / 1024 } : {}
  } catch {
    return {}
  }
}

/** user + system CPU seconds the process has used, from /proc on Linux; undefined elsewhere */
function cpuSecondsOf (pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return undefined
  }
}

let ticks: number | undefined
function clockTicks (): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticks = 100
    }
  }
  return ticks
}

// ---------------------------------------------------------------- rounds

interface Row {
  path: string
  round: number
  result: Result
  tally: Tally
  rss?: number
  almaCalls: number
  /** the most Alma calls in progress at once (the service caps its Alma connections) */
  almaConcurrency: number
  queued: number
  serverLogLines: number
  /** CPU the server used during the round, in seconds */
  serverCpu?: number
  /** the machine's 1-minute load average at the end of the round: other work on the machine shows here */
  load: number
  errorSamples: string[]
}

let current: Instance | undefined
let interrupted = false
process.once('SIGINT', () => {
  interrupted = true
  current?.stop()
})

function runAutocannon (base: string, title: string, requests: Request[]): Promise<{ result: Result, errorSamples: string[] }> {
  const errorSamples: string[] = []
  let client = 0
  return new Promise((resolve, reject) => {
    current = autocannon({
      url: base,
      title,
      connections: CONNECTIONS,
      duration: DURATION_S,
      timeout: TIMEOUT_S,
      pipelining: 1,
      requests,
      // Each connection starts at its own place in the cycle, so that the 50 do not march in step.
      setupClient: (c) => {
        const start = Math.floor((client++ * requests.length) / CONNECTIONS)
        c.setRequests([...requests.slice(start), ...requests.slice(0, start)])
      }
    }, (error, result) => {
      current = undefined
      if (error !== null) reject(error)
      else resolve({ result, errorSamples })
    })
    current.on('reqError', (error: Error) => {
      if (errorSamples.length < 5) errorSamples.push(String(error))
    })
  })
}

async function round (stack: EmbeddedStack, server: RunningServer, purge: () => Promise<void>, name: string, path: Expected[], n: number): Promise<Row> {
  stack.alma?.resetCalls()
  await purge()
  const logLinesBefore = server.log.lines
  const tally = newTally()
  const cpuBefore = cpuSecondsOf(server.child.pid)
  const { result, errorSamples } = await runAutocannon(server.base, `${name} ${n}`, autocannonRequests(path, tally))
  const cpuAfter = cpuSecondsOf(server.child.pid)
  // Let in-flight work (queue sends, Alma calls of dropped connections) settle before counting and measuring.
  await sleep(1000)
  return {
    path: name,
    round: n,
    result,
    tally,
    rss: memoryOf(server.child.pid).rss,
    almaCalls: stack.alma?.calls.length ?? 0,
    almaConcurrency: stack.alma?.maxConcurrentCalls ?? 0,
    queued: (await stack.queuedUserIDs()).length,
    serverLogLines: server.log.lines - logLinesBefore,
    serverCpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    load: loadavg()[0] ?? 0,
    errorSamples
  }
}

/** what is wrong with a round, if anything */
function failuresOf (row: Row): string[] {
  const { result, tally } = row
  const label = `${row.path} round ${row.round}`
  const failures: string[] = []
  if (result.errors > 0) failures.push(`${label}: ${result.errors} transport errors (${result.timeouts} of them timeouts): ${row.errorSamples.join('; ')}`)
  if (tally.unexpected > 0) failures.push(`${label}: ${tally.unexpected} unexpected answers, e.g.\n    ${tally.samples.join('\n    ')}`)
  if (row.path === 'hit') {
    if (result.non2xx > 0) failures.push(`${label}: ${result.non2xx} non-2xx answers`)
    if (row.almaCalls > 0) failures.push(`${label}: ${row.almaCalls} Alma calls on the cache-hit path`)
    if (row.queued > 0) failures.push(`${label}: ${row.queued} users queued on the cache-hit path`)
  }
  if (row.serverLogLines > 0) failures.push(`${label}: the server logged ${row.serverLogLines} warn/error lines`)
  if (tally.checked === 0) failures.push(`${label}: no answers at all`)
  return failures
}

function rssFailures (rows: Row[]): string[] {
  const failures: string[] = []
  for (const name of new Set(rows.map((row) => row.path))) {
    const ofPath = rows.filter((row) => row.path === name)
    const first = ofPath[0]
    const last = ofPath.at(-1)
    if (first === undefined || last === undefined || ofPath.length < 2) continue
    if (first.rss === undefined || last.rss === undefined) {
      console.log(`${name}: RSS not readable on this platform; growth not checked`)
      continue
    }
    const growth = last.rss - first.rss
    const later = ofPath.slice(1).reduce((sum, row) => sum + row.tally.checked, 0)
    const threshold = later > 0 ? (RSS_GROWTH_BOUND_MIB * 1024 * 1024) / later : Infinity
    console.log(`${name}: RSS ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB from round 1 to round ${last.round} ` +
      `(bound ${RSS_GROWTH_BOUND_MIB} MiB: a leak of ${threshold.toFixed(0)} bytes a request over those ${later} requests would cross it)`)
    if (growth >= RSS_GROWTH_BOUND_MIB) failures.push(`${name}: RSS grew ${growth.toFixed(1)} MiB from round 1 to round ${last.round} (bound ${RSS_GROWTH_BOUND_MIB} MiB)`)
  }
  return failures
}

// ---------------------------------------------------------------- report

const mib = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(1))

function table (rows: Row[]): string {
  const head = ['path', 'round', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'timeouts', 'non-2xx', 'unexpected', 'RSS MiB', 'server CPU']
  const body = rows.map(({ path, round, result, tally, rss, serverCpu }) => [
    path, String(round), result.requests.mean.toFixed(0),
    String(result.latency.p50), String(result.latency.p90), String(result.latency.p99), String(result.latency.max),
    String(result.errors), String(result.timeouts), String(result.non2xx), String(tally.unexpected), mib(rss),
    serverCpu === undefined ? 'n/a' : `${((100 * serverCpu) / result.duration).toFixed(0)}%`
  ])
  const widths = head.map((title, i) => Math.max(title.length, ...body.map((cells) => (cells[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`
  return [line(head), `|${widths.map((width, i) => (i < 2 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n')
}

function describe (row: Row): string {
  const { result, tally } = row
  const statuses = Object.entries(result.statusCodeStats).map(([status, { count }]) => `${status}: ${count}`).join(', ')
  const mix = [...tally.byCategory].map(([category, n]) => `${category} ${n}`).join(', ')
  const caches = [...tally.byCache].map(([cache, n]) => `${cache} ${n}`).join(', ')
  return [
    `${row.path} round ${row.round}: ${result.requests.mean.toFixed(0)} req/s (${result.requests.total} answers in ${result.duration.toFixed(1)} s), ` +
      `latency p50 ${result.latency.p50} / p90 ${result.latency.p90} / p99 ${result.latency.p99} / max ${result.latency.max} ms, ` +
      `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, unexpected ${tally.unexpected}, server RSS ${mib(row.rss)} MiB`,
    `  statuses: ${statuses}; X-Cache: ${caches}`,
    `  mix: ${mix}; Alma calls ${row.almaCalls} (at most ${row.almaConcurrency} at once), users queued ${row.queued}, server warn/error lines ${row.serverLogLines}`,
    `  server CPU ${row.serverCpu === undefined
? 'n/a'
: `${((100 * row.serverCpu) / result.duration).toFixed(0)}% of a core, ` +
      `${((1000 * row.serverCpu) / Math.max(1, tally.checked)).toFixed(2)} ms an answer`}; machine load average ${row.load.toFixed(2)}`
  ].join('\n')
}

// ---------------------------------------------------------------- main

function positiveInteger (text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0) throw new Error(`not a positive integer: ${text}`)
  return value
}

function build (): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node scripts/build.mjs exited with ${code}`))))
  })
}

/** Each request made before a round must already answer as expected: a wrong expectation fails in seconds, not minutes. */
async function preflight (base: string, paths: Array<[string, Expected[]]>): Promise<string[]> {
  const failures: string[] = []
  for (const [name, path] of paths) {
    for (const expected of path) {
      const { status, headers, body } = await fetchOnce(base, expected.path)
      const wrong = mismatch(expected, status, body, headers)
      if (wrong !== undefined) failures.push(`preflight (${name}) GET ${expected.path}: ${wrong}: ${body.slice(0, 200)}`)
    }
  }
  return failures
}

async function main (): Promise<number> {
  const failures: string[] = []
  const rows: Row[] = []
  let stack: EmbeddedStack | undefined
  let server: RunningServer | undefined
  let sqs: SQSClient | undefined
  let peak: number | undefined
  try {
    await build()
    stack = await startEmbeddedStack({ almaLatencyMs: ALMA_LATENCY_MS })
    await seed(stack)
    const { env } = stack
    sqs = new SQSClient({
      endpoint: env.AWS_ENDPOINT_URL_SQS,
      region: env.AWS_REGION,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' }
    })
    const queue = sqs
    // Queued user IDs would pile up in fauxqs (this process) for nobody to read.
    const purge = async () => { await queue.send(new PurgeQueueCommand({ QueueUrl: env.USER_QUEUE_URL })) }

    server = startServer(env, await freePort())
    await waitUntilReady(server)
    console.log(`\nserver ${server.base} (pid ${server.child.pid}), Alma simulator at ${env.ALMA_API_URL} (${ALMA_LATENCY_MS} ms a call); ` +
      `${CONNECTIONS} connections, ${DURATION_S} s a round, ${ROUNDS} rounds a path; RSS after start ${mib(memoryOf(server.child.pid).rss)} MiB`)
    console.log(`hit path: ${hitPath.length} requests a cycle; mixed path: ${mixedPath.length} requests a cycle`)

    const paths: Array<[string, Expected[]]> = [['hit', hitPath], ['mixed', mixedPath]]
    failures.push(...await preflight(server.base, paths))
    if (failures.length > 0) throw new Error('preflight failed; no load run')

    for (const [name, path] of paths) {
      for (let n = 1; n <= ROUNDS; n++) {
        if (interrupted) break // set by the SIGINT handler
        if (!isRunning(server)) throw new Error('the server died')
        const row = await round(stack, server, purge, name, path, n)
        rows.push(row)
        console.log(describe(row))
        failures.push(...failuresOf(row))
      }
    }
    if (interrupted) failures.push('interrupted')
    peak = memoryOf(server.child.pid).peak
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error))
  } finally {
    if (server !== undefined) {
      const problem = await stopServer(server)
      if (problem !== undefined) failures.push(`${problem}: ${server.stderr().trim()}`)
      if (server.log.byMessage.size > 0) {
        console.log('\nserver log lines at warn and above, by message:')
        for (const [message, n] of server.log.byMessage) console.log(`  ${n} x ${message}`)
        console.log(`last lines:\n  ${server.log.tail.join('\n  ')}`)
      }
    }
    sqs?.destroy()
    await stack?.close()
  }

  console.log('')
  failures.push(...rssFailures(rows))
  if (rows.length > 0) {
    console.log(`\n${table(rows)}`)
    console.log(`(${CONNECTIONS} connections, ${DURATION_S} s a round; latency from autocannon; RSS of the server after each round${peak === undefined ? '' : `, peak ${mib(peak)} MiB`})`)
  }
  if (failures.length > 0) {
    console.log(`\nFAILED:\n- ${failures.join('\n- ')}`)
    return 1
  }
  console.log('\nOK: no errors, no timeouts, every answer as expected, RSS within bound')
  return 0
}

// Exit explicitly: the stack and autocannon leave nothing that matters once main is done.
process.exit(await main())
