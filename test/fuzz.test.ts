import assert from 'node:assert/strict'
import { METHODS, STATUS_CODES } from 'node:http'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { ALMA_TEST_KEY, buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// Property-based tests of the HTTP surface (CONTRACT 2.2, 2.3, 3.5): random
// paths, identifiers, headers and methods through app.inject, against
// dynalite, fauxqs and the Alma simulator over HTTP. The seed is random on
// purpose; a failure prints it with the shrunk counterexample
// (replay: fc.assert(..., { seed, path })).

const stack = await startTestStack(t)
const { app } = await buildTestApp(t)

// One user whose records are all cached and valid; the simulator knows no user
// at all, so every other valid user ID is unknown to Alma.
const CACHED = 'fuzz-cached'
const cachedRecords = almaUserRecords(CACHED, { loans: 3, requests: 2, fees: 2 })
await stack.writeCacheRows(cacheRowsOf(CACHED, cachedRecords, nowSeconds() + DAY))

const KINDS = ['loans', 'requests', 'fees'] as const
type Kind = typeof KINDS[number]
const ITEM_PARAM: Record<Kind, string> = { loans: 'loanID', requests: 'requestID', fees: 'feeID' }
const cachedItemIDs: Record<Kind, string[]> = {
  loans: cachedRecords.loans.map((record) => String(record.loan_id)),
  requests: cachedRecords.requests.map((record) => String(record.request_id)),
  fees: cachedRecords.fees.map((record) => String(record.id))
}

// CONTRACT 2.2 as written, deliberately not imported from src/: a rule loosened
// there must fail here.
const USER_ID = /^(?=.*[A-Za-z0-9])[A-Za-z0-9._@+-]{1,255}$/
const ITEM_ID = /^(?=.*[A-Za-z0-9])[A-Za-z0-9._-]{1,64}$/

// A hang must fail its property with a report, not time the whole file out
// (tap's 60 s): every inject is bounded, later ones more tightly once the app
// has hung; shrinking stops SHRINK_BUDGET_MS after a property's first failure,
// and once the app has hung, later properties report their first failure unshrunk.
const INJECT_TIMEOUT_MS = 10_000
const INJECT_TIMEOUT_AFTER_A_HANG_MS = 2_000
const SHRINK_BUDGET_MS = 10_000
let hung = false
// FUZZ_RUNS_SCALE=20 for a long hunt; the default keeps the file at a few seconds.
const RUNS_SCALE = Math.max(1, Number(process.env.FUZZ_RUNS_SCALE ?? '1') || 1)
const runs = (count: number) => Math.max(1, Math.round(count * RUNS_SCALE))
// A failure's report names the assertion that failed, not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true })

// --- The oracle: what the contract says the service answers to a URL ---------

type Route =
  | { name: 'user', userID: string }
  | { name: 'list', userID: string, kind: Kind }
  | { name: 'item', userID: string, kind: Kind, itemID: string }

type Expected =
  | { answer: 'no-route', pathname: string }
  | { answer: 'invalid', pathname: string, field: string }
  | { answer: 'served', pathname: string, route: Route }
  /** a percent-escape that decodes to nothing (only the known-bug property makes these) */
  | { answer: 'malformed', pathname: string }

const isKind = (text: string | undefined): text is Kind => KINDS.some((kind) => kind === text)

/**
 * The URL as inject() reads it (see expectationFor); undefined where it cannot
 * read one, as for `/\\/`, whose `\\` is a `/` there, and `///` names an empty
 * host: no client sends such a URL, nor can inject().
 */
function clientURL (url: string): URL | undefined {
  const absolute = url.startsWith('//') ? `http://localhost${url}` : url
  return URL.canParse(absolute, 'http://localhost') ? new URL(absolute, 'http://localhost') : undefined
}

/**
 * inject() parses the URL as any client would (light-my-request: `//` prefixed
 * with the host, then WHATWG URL): dot segments resolved, `#...` dropped, `\`
 * made `/`, tabs and newlines removed. The router then splits the path at raw
 * `/` only (`%2F` stays inside its segment), decodes every segment, and params
 * may be empty.
 */
function expectationFor (url: string): Expected {
  const parsed = clientURL(url)
  if (parsed === undefined) throw new Error(`No URL a client can send: ${url}`)
  const { pathname } = parsed
  let segments: string[]
  try {
    segments = pathname.split('/').map((segment) => decodeURIComponent(segment))
  } catch {
    return { answer: 'malformed', pathname }
  }
  const [root, users, userID, kind, itemID, ...rest] = segments
  if (root !== '' || users !== 'users' || userID === undefined || rest.length > 0) return { answer: 'no-route', pathname }
  if (kind !== undefined && !isKind(kind)) return { answer: 'no-route', pathname }
  // An empty segment where an identifier goes: no route, as API Gateway has none for it.
  if (userID === '' || itemID === '') return { answer: 'no-route', pathname }
  const route: Route = kind === undefined
    ? { name: 'user', userID }
    : itemID === undefined ? { name: 'list', userID, kind } : { name: 'item', userID, kind, itemID }
  // Validated in the schema's order: userID first.
  if (!USER_ID.test(userID)) return { answer: 'invalid', pathname, field: 'userID' }
  if (route.name === 'item' && !ITEM_ID.test(route.itemID)) return { answer: 'invalid', pathname, field: ITEM_PARAM[route.kind] }
  return { answer: 'served', pathname, route }
}

/** Every Alma path the route may call, identifiers percent-encoded (CONTRACT 2.2, 3.3, 3.4). */
function almaPathsFor (route: Route): string[] {
  const user = `/almaws/v1/users/${encodeURIComponent(route.userID)}`
  if (route.name === 'user') return KINDS.map((kind) => `${user}/${kind}`)
  if (route.name === 'list') return [`${user}/${route.kind}`]
  return [`${user}/${route.kind}/${encodeURIComponent(route.itemID)}`]
}

/** Served from the cache alone: the cached user's lists, and its cached items. */
function isCacheHit (route: Route): boolean {
  if (route.userID.toLowerCase() !== CACHED) return false
  return route.name !== 'item' || cachedItemIDs[route.kind].includes(route.itemID)
}

// --- Sending and checking -------------------------------------------------------

/** One inject, bounded: a hang fails the property instead of timing the file out. */
async function send (options: InjectOptions & { url: string }): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined
  const limit = hung ? INJECT_TIMEOUT_AFTER_A_HANG_MS : INJECT_TIMEOUT_MS
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      hung = true
      reject(new Error(`no answer within ${limit} ms: ${String(options.method ?? 'GET')} ${options.url}`))
    }, limit)
  })
  try {
    return await Promise.race([app.inject(options), hang])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The property body, stopping the run (and its shrinking) SHRINK_BUDGET_MS after
 * its first failure; in a property started after the app has hung, at once.
 */
function withinBudget<Ts extends unknown[]> (predicate: (...values: Ts) => Promise<void>): (...values: Ts) => Promise<void> {
  const budget = hung ? 0 : SHRINK_BUDGET_MS
  let firstFailure: number | undefined
  return async (...values) => {
    if (firstFailure !== undefined && Date.now() - firstFailure >= budget) throw new fc.PreconditionFailure(true)
    try {
      await predicate(...values)
    } catch (error) {
      firstFailure ??= Date.now()
      throw error
    }
  }
}

const LEAKS = [/\/work\//, /node_modules/, /\n\s*at /, /\bat \S+ \(/, /\.[cm]?[jt]s:\d+/, /Error:/]

/** CONTRACT 2.3: no-store always; errors exactly { statusCode, error, message }, nothing internal. */
function checkContract (response: LightMyRequestResponse, method: string, pathname: string, allowed: readonly number[]): void {
  const { statusCode } = response
  assert.ok(allowed.includes(statusCode), `status ${statusCode} not in ${allowed.join(', ')}`)
  assert.equal(response.headers['cache-control'], 'no-store', 'Cache-Control: no-store')
  assert.equal(response.headers['x-content-type-options'], 'nosniff', 'never sniffed as anything but JSON')
  assert.match(String(response.headers['content-type']), /^application\/json/, 'a JSON answer')
  if (method === 'HEAD') {
    assert.equal(response.body, '', 'HEAD: no body')
    return
  }
  if (statusCode === 200) {
    assert.match(String(response.headers['x-cache']), /^(hit|miss|partial|stale)$/, 'X-Cache on a 200')
    return
  }
  const body: unknown = JSON.parse(response.body)
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), 'an error body is an object')
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode'], 'exactly statusCode, error, message')
  const { statusCode: said, error, message } = body as Record<string, unknown>
  assert.equal(said, statusCode, 'statusCode is the HTTP status')
  assert.equal(error, STATUS_CODES[statusCode], 'error is the reason phrase')
  assert.equal(typeof message, 'string')
  // A 404 echoes the path it could not route; whatever is left must say nothing internal.
  const own = String(message).split(pathname).join('')
  for (const leak of LEAKS) assert.doesNotMatch(own, leak, 'no internals in the message')
}

/**
 * Sends a GET or HEAD and holds the answer to the oracle: the exact status,
 * Alma calls only for valid identifiers, percent-encoded, and the user queued
 * exactly when the contract says so.
 */
async function checkAgainstOracle (url: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Expected> {
  const expected = expectationFor(url)
  stack.alma.resetCalls()
  const queuedBefore = (await stack.queuedUserIDs())
  const response = await send({ method, url })
  const calls = stack.alma.calls.map((call) => call.path)
  const queued = (await stack.queuedUserIDs()).slice(queuedBefore.length)

  if (expected.answer !== 'served') {
    assert.deepEqual(calls, [], `no Alma call (the router sees ${expected.pathname})`)
    assert.deepEqual(queued, [], 'nobody queued')
    const status = expected.answer === 'no-route' ? 404 : 400
    checkContract(response, method, expected.pathname, [status])
    if (expected.answer === 'invalid' && method === 'GET') {
      assert.match(response.json<{ message: string }>().message, new RegExp(`^Invalid ${expected.field}\\b`), `names ${expected.field}`)
    }
    return expected
  }

  const { route } = expected
  const allowedPaths = almaPathsFor(route)
  for (const path of calls) assert.ok(allowedPaths.includes(path), `Alma call ${path} is not one of ${allowedPaths.join(' ')}`)
  if (isCacheHit(route)) {
    checkContract(response, method, expected.pathname, [200])
    assert.equal(response.headers['x-cache'], 'hit')
    assert.deepEqual(calls, [], 'a hit calls no Alma')
  } else {
    // Nobody but the cached user exists, and Alma knows no one: 404, after asking Alma.
    checkContract(response, method, expected.pathname, [404])
    assert.ok(calls.length > 0, 'Alma was asked')
  }
  // CONTRACT 3.5: a user without a valid cache record is queued once, as written.
  assert.deepEqual(queued, route.userID.toLowerCase() === CACHED ? [] : [route.userID], 'queued exactly as written, once')
  return expected
}

// --- Generators ----------------------------------------------------------------

const ALNUM = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789']
const hasAlnum = (text: string) => /[A-Za-z0-9]/.test(text)

const charOf = (specials: readonly string[]) => fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...ALNUM) },
  { weight: 2, arbitrary: fc.constantFrom(...specials) }
)
const USER_SPECIALS = ['.', '_', '-', '@', '+'] as const
const ITEM_SPECIALS = ['.', '_', '-'] as const
const userChar = charOf(USER_SPECIALS)
const itemChar = charOf(ITEM_SPECIALS)

const validUserID = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: userChar, minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: userChar, minLength: 200, maxLength: 255, size: 'max' }) },
  { weight: 1, arbitrary: fc.constantFrom('a', '0', 'Z'.repeat(255), 'o+brien@uni.ac.uk', '.a', 'a.', '..a', 'a..', '-1', '@0+', 'g1') }
).filter(hasAlnum)

const validItemID = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: itemChar, minLength: 1, maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: itemChar, minLength: 50, maxLength: 64, size: 'max' }) },
  { weight: 1, arbitrary: fc.constantFrom('1', '9'.repeat(64), '.1', '1.', '..1', 'g1', '23000001') }
).filter(hasAlnum)

/** Characters no identifier may hold: URL syntax, controls, look-alikes, case-folding traps. */
const FORBIDDEN = [
  '/', '?', '#', ' ', '%', '\\', ':', ';', ',', '=', '&', '$', '!', '*', "'", '(', ')', '~', '"', '<', '>',
  '[', ']', '{', '}', '|', '^', '`', '\t', '\n', '\r', '\0', '\x7f', '\u00a0', 'é', 'ß', 'İ', 'ſ', '\u212a',
  'Ａ', 'а', '\u200b', '\u202e', '\ufeff', '😀', '漢', '%2F', '%00', '..', './', '../'
]
const controlChar = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code))
const anyForeignChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })

function invalidID (rule: RegExp, chars: fc.Arbitrary<string>, specials: readonly string[], extraForbidden: readonly string[], tooLong: number) {
  const forbidden = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...FORBIDDEN) },
    { weight: 2, arbitrary: fc.constantFrom(...extraForbidden) },
    { weight: 1, arbitrary: controlChar },
    { weight: 1, arbitrary: anyForeignChar }
  )
  const around = fc.string({ unit: chars, maxLength: 12 })
  return fc.oneof(
    // A valid-looking ID with something forbidden in it.
    { weight: 6, arbitrary: fc.tuple(around, fc.array(forbidden, { minLength: 1, maxLength: 3 }), around).map(([before, bad, after]) => before + bad.join('') + after) },
    // Nothing but dots, dashes, underscores (and @ + for users): no letter or digit.
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...specials), minLength: 1, maxLength: 300 }) },
    // Too long, up to the router's 512-character limit on a parameter (beyond it: the known-bug property).
    { weight: 2, arbitrary: fc.string({ unit: chars, minLength: tooLong - 1, maxLength: 512, size: 'max' }).map((text) => `a${text}`.slice(0, 512)) },
    { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '...', '%2F', '..%2F', 'a/../b', '../admin', '%2e%2e', '?', '#', 'a%00', ' ', '\u0000') }
  ).filter((text) => !rule.test(text) && text.length <= 512)
}

const invalidUserID = invalidID(USER_ID, userChar, USER_SPECIALS, ['/', '%'], 256)
const invalidItemID = invalidID(ITEM_ID, itemChar, [...ITEM_SPECIALS, '@', '+'], ['@', '+'], 65)

/** How a caller writes an ID into the path. */
interface Writing {
  how: 'component' | 'mixed' | 'raw'
  /** mixed: which characters to percent-encode even though they need not be, cycled */
  mask: boolean[]
  lowerHex: boolean
}
const writing: fc.Arbitrary<Writing> = fc.record({
  how: fc.constantFrom('component', 'component', 'mixed', 'raw'),
  mask: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  lowerHex: fc.boolean()
})
const safeWriting: fc.Arbitrary<Writing> = writing.map((w) => w.how === 'raw' ? { ...w, how: 'component' } : w)

/** Always well-formed percent-escapes: a raw `%` is written `%25` (malformed ones: the known-bug property). */
function write (id: string, { how, mask, lowerHex }: Writing): string {
  const hex = (text: string) => lowerHex ? text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()) : text
  if (how === 'raw') return id.replaceAll('%', '%25')
  if (how === 'component') return hex(encodeURIComponent(id))
  let index = 0
  return hex([...id].map((char) => {
    const encoded = encodeURIComponent(char)
    const force = mask[index++ % mask.length] === true
    if (encoded !== char || !force) return encoded
    return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
  }).join(''))
}

type Template = 'user' | Kind | `${Kind}/item`
const TEMPLATES: readonly Template[] = ['user', 'loans', 'requests', 'fees', 'loans/item', 'requests/item', 'fees/item']
const template = fc.constantFrom(...TEMPLATES)

function urlOf (tpl: Template, user: string, item: string): string {
  if (tpl === 'user') return `/users/${user}`
  const [kind, hasItem] = tpl.split('/')
  return hasItem === undefined ? `/users/${user}/${String(kind)}` : `/users/${user}/${String(kind)}/${item}`
}

// --- The properties -------------------------------------------------------------

t.test('random paths: an answer within the bound, 200, 400 or 404 as the oracle says, always the contract shape', async (t) => {
  const routeWord = fc.constantFrom('users', 'loans', 'requests', 'fees', 'USERS', 'Loans', 'user', 'lo%61ns', 'u%73ers', 'almaws', 'v1')
  const dots = fc.constantFrom('', '.', '..', '%2e', '%2E%2e', '.%2e', '...')
  const rawText = fc.string({ unit: 'binary', maxLength: 20 }).map((text) => text.replaceAll('%', '%25'))
  const segment = fc.oneof(
    { weight: 3, arbitrary: routeWord },
    { weight: 2, arbitrary: dots },
    { weight: 3, arbitrary: fc.tuple(validUserID, safeWriting).map(([id, w]) => write(id, w)) },
    { weight: 2, arbitrary: fc.tuple(validItemID, safeWriting).map(([id, w]) => write(id, w)) },
    { weight: 1, arbitrary: fc.constantFrom(CACHED, CACHED.toUpperCase(), ...Object.values(cachedItemIDs).flat()) },
    { weight: 2, arbitrary: fc.tuple(invalidUserID, writing).map(([id, w]) => write(id, w)) },
    { weight: 2, arbitrary: rawText }
  )
  const shaped = fc.tuple(segment, fc.constantFrom(...KINDS), segment, fc.integer({ min: 1, max: 3 }))
    .map(([user, kind, item, length]) => ['users', user, kind, item].slice(0, length + 1))
  const path = fc.oneof(shaped, fc.array(segment, { maxLength: 7 })).map((segments) => `/${segments.join('/')}`)
  const query = fc.option(fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((text) => `?${text.replaceAll('#', '%23')}`), { nil: '' })
  const fragment = fc.option(fc.string({ maxLength: 10 }).map((text) => `#${text}`), { nil: '' })

  const seen = { invalid: 0, 'no-route': 0, served: 0, malformed: 0 }
  await fc.assert(fc.asyncProperty(path, query, fragment, withinBudget(async (p, q, f) => {
    fc.pre(clientURL(p + q + f) !== undefined)
    seen[(await checkAgainstOracle(p + q + f)).answer]++
  })), { numRuns: runs(300) })
  t.ok(seen.invalid > 0 && seen['no-route'] > 0 && seen.served > 0, `every kind of answer was tried: ${JSON.stringify(seen)}`)
})

t.test('invalid identifiers: 400 (404 where the path no longer routes), and never an Alma call for them', async (t) => {
  const invalid = (id: string) => ({ id, valid: false })
  const valid = (id: string) => ({ id, valid: true })
  const cases = fc.oneof(
    // An invalid user ID, on any of the seven paths (an item ID, if any, of either kind).
    fc.record({ tpl: template, user: invalidUserID.map(invalid), item: fc.oneof(invalidItemID.map(invalid), validItemID.map(valid)), userWriting: writing, itemWriting: writing }),
    // A valid user ID and an invalid item ID (an invalid user ID would be reported first).
    fc.record({ tpl: fc.constantFrom<Template>('loans/item', 'requests/item', 'fees/item'), user: validUserID.map(valid), item: invalidItemID.map(invalid), userWriting: writing, itemWriting: writing })
  )

  const seen = { invalid: 0, 'no-route': 0, served: 0 }
  await fc.assert(fc.asyncProperty(cases, withinBudget(async ({ tpl, user, item, userWriting, itemWriting }) => {
    const url = urlOf(tpl, write(user.id, userWriting), write(item.id, itemWriting))
    const expected = await checkAgainstOracle(url)
    if (expected.answer !== 'malformed') seen[expected.answer]++
    // Written encoded, an invalid ID always reaches validation, whatever it holds.
    const encoded = (userWriting.how !== 'raw' || user.valid) && (itemWriting.how !== 'raw' || item.valid || !tpl.endsWith('/item'))
    // A dot segment is resolved away and an empty one names nothing: either leaves a path with no route.
    const noSegment = (id: string) => id === '' || id === '.' || id === '..'
    if (encoded && !noSegment(user.id) && !(tpl.endsWith('/item') && noSegment(item.id))) assert.equal(expected.answer, 'invalid')
    // 'served' only when the client's URL parsing cut the invalid part away (raw `a?b` is
    // user `a`, `x/./loans` is user x's loans): checkAgainstOracle then held every Alma
    // call to the valid identifiers left, percent-encoded.
  })), { numRuns: runs(300) })
  t.ok(seen.invalid > seen['no-route'] + seen.served, `mostly 400s: ${JSON.stringify(seen)}`)
})

t.test('valid identifiers of users unknown to Alma: 404 after asking Alma, IDs percent-encoded in its paths', async (t) => {
  const cases = fc.record({ tpl: template, user: validUserID, item: validItemID, userWriting: safeWriting, itemWriting: safeWriting })
  await fc.assert(fc.asyncProperty(cases, withinBudget(async ({ tpl, user, item, userWriting, itemWriting }) => {
    const url = urlOf(tpl, write(user, userWriting), write(item, itemWriting))
    const expected = await checkAgainstOracle(url)
    assert.equal(expected.answer, 'served', 'a valid ID is served')
    if (expected.answer !== 'served') return
    assert.equal(expected.route.userID, user, 'the router decoded the user ID back')
    if (expected.route.name === 'item') assert.equal(expected.route.itemID, item, 'and the item ID')
  })), { numRuns: runs(150) })
})

t.test('random headers never change a cached answer: 200, X-Cache hit, no Alma call, the same body', async (t) => {
  const paths = [
    `/users/${CACHED}`,
    ...KINDS.map((kind) => `/users/${CACHED}/${kind}`),
    ...KINDS.map((kind) => `/users/${CACHED}/${kind}/${String(cachedItemIDs[kind][0])}`)
  ]
  const baseline = new Map<string, string>()
  for (const path of paths) {
    const response = await send({ method: 'GET', url: path })
    t.same([response.statusCode, response.headers['x-cache']], [200, 'hit'], `${path}: a hit without extra headers`)
    baseline.set(path, response.body)
  }

  const TCHAR = [...ALNUM, ...'!#$%&\'*+-.^_`|~']
  const knownName = fc.constantFrom(
    'accept-encoding', 'accept-language', 'accept-version', 'accept-charset', 'referer', 'host', 'cookie', 'user-agent',
    'content-length', 'content-encoding', 'transfer-encoding', 'expect', 'connection', 'upgrade', 'te', 'range',
    'if-none-match', 'if-modified-since', 'if-match', 'cache-control', 'pragma', 'forwarded', 'x-forwarded-for',
    'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-request-id', 'x-amzn-trace-id', 'x-http-method-override',
    'access-control-request-method', 'access-control-request-headers', 'x-cache', 'x-user-id', 'x-alma-key'
  )
  const anyName = fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 40 })
  // Field values: visible ASCII, space, tab and obs-text; no CR, LF or NUL.
  const valueChar = fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) },
    { weight: 1, arbitrary: fc.constantFrom('\t', '\u0080', '\u00e9', '\u00ff') }
  )
  const oddValue = fc.constantFrom(
    '', 'null', 'undefined', '0', '-1', '99999999999999999999', 'chunked', '100-continue', 'gzip, br, zstd', 'bytes=0-1',
    'no-cache', `apikey ${ALMA_TEST_KEY}`, 'websocket', 'POST', 'GET, POST', '../../etc/passwd',
    '<script>alert(1)</script>', '$' + '{jndi:ldap://x}', '\' OR 1=1 --'
  )
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: valueChar, maxLength: 64 }) },
    { weight: 2, arbitrary: oddValue },
    // Large values, up to 16 KiB (Node's default limit for a whole header block).
    { weight: 1, arbitrary: fc.tuple(fc.string({ unit: valueChar, minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 16_384 })).map(([text, times]) => text.repeat(times).slice(0, 16_384)) }
  )
  const mediaTypes = fc.constantFrom(
    '*/*', 'text/html', 'text/plain', 'application/xml', 'application/json', 'application/json;q=0', 'image/*;q=0.1, */*;q=0',
    'application/problem+json', ';;;,,,', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'text/html, application/xhtml+xml'
  )
  const field = fc.oneof(
    fc.tuple(fc.constantFrom('accept', 'content-type'), fc.oneof(mediaTypes, value)),
    fc.tuple(fc.constantFrom('x-api-key', 'authorization'), value),
    fc.tuple(fc.constant('origin'), fc.oneof(fc.webUrl(), fc.constantFrom('null', 'https://evil.example'), value)),
    fc.tuple(knownName, value),
    fc.tuple(anyName, value)
  )
  const headers = fc.array(field, { minLength: 1, maxLength: 12 }).map((fields) => Object.fromEntries(fields))

  await fc.assert(fc.asyncProperty(fc.constantFrom(...paths), headers, withinBudget(async (path, sent) => {
    stack.alma.resetCalls()
    const response = await send({ method: 'GET', url: path, headers: sent })
    checkContract(response, 'GET', path, [200])
    assert.equal(response.headers['x-cache'], 'hit')
    assert.equal(response.body, baseline.get(path), 'the same body as without the headers')
    assert.deepEqual(stack.alma.calls, [], 'no Alma call')
  })), { numRuns: runs(200) })
})

t.test('methods other than GET: never a 500, never an Alma call (HEAD answers as GET does, without a body)', async (t) => {
  const OTHER = METHODS.filter((method) => method !== 'GET' && method !== 'HEAD')
  const method = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
    { weight: 2, arbitrary: fc.constant('HEAD') },
    { weight: 1, arbitrary: fc.constantFrom(...OTHER) }
  )
  const user = fc.oneof(fc.constantFrom(CACHED, CACHED.toUpperCase()), validUserID, invalidUserID)
  const item = fc.oneof(fc.constantFrom(...Object.values(cachedItemIDs).flat()), validItemID, invalidItemID)
  const payload = fc.option(fc.record({
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', ';;;', '@/@'), { nil: undefined }),
    body: fc.oneof(fc.json(), fc.string({ maxLength: 4096 }))
  }), { nil: undefined })
  const cases = fc.record({ method, tpl: template, user, item, userWriting: safeWriting, itemWriting: safeWriting, payload })

  await fc.assert(fc.asyncProperty(cases, withinBudget(async ({ method, tpl, user, item, userWriting, itemWriting, payload }) => {
    const url = urlOf(tpl, write(user, userWriting), write(item, itemWriting))
    if (method === 'HEAD') {
      await checkAgainstOracle(url, 'HEAD')
      return
    }
    const headers: Record<string, string> = payload?.contentType === undefined ? {} : { 'content-type': payload.contentType }
    stack.alma.resetCalls()
    const queuedBefore = (await stack.queuedUserIDs()).length
    const response = await send({ method: method as InjectOptions['method'], url, headers, ...(payload === undefined ? {} : { payload: payload.body }) })
    const { pathname } = new URL(url, 'http://localhost')
    // No route but GET (and HEAD): 404; a body Fastify cannot read first: 400 or 415 (QUERY wants a Content-Type).
    const bare = payload === undefined && method !== 'QUERY'
    checkContract(response, method, pathname, bare ? [404] : [400, 404, 415])
    assert.deepEqual(stack.alma.calls, [], 'no Alma call')
    assert.equal((await stack.queuedUserIDs()).length, queuedBefore, 'nobody queued')
  })), { numRuns: runs(200) })
})

// Fastify answers these before any hook or handler of ours runs: a malformed
// percent-escape (`/users/%zz`, `/users/%`, `/users/ok/loans/%C3`) and a
// parameter longer than the router's maxParamLength. The app's frameworkErrors
// answer keeps them to CONTRACT 2.2 and 2.3 (400, the error body, no-store).

t.test('malformed percent-escapes and parameters over 512 characters: still the contract', async (t) => {
  const malformed = fc.constantFrom('%', '%%', '%zz', '%2', '%C3', '%FF', '%E0%80', '%ED%A0%80', '%C0%AF', '%u002F', '%%2F')
  const broken = fc.tuple(fc.string({ unit: userChar, maxLength: 8 }), malformed, fc.string({ unit: userChar, maxLength: 8 }))
    .map(([before, bad, after]) => before + bad + after)
  const overLong = fc.tuple(fc.integer({ min: 513, max: 3000 }), fc.constantFrom('a', '.', 'é', '%2F', '😀'))
    .map(([length, unit]) => unit.repeat(length))
  const urls = fc.record({ tpl: template, user: fc.oneof(validUserID, broken, overLong), item: fc.oneof(validItemID, broken, overLong) })
    .map(({ tpl, user, item }) => urlOf(tpl, user, item))
    // `%` then `5A` is no malformed escape but a Z: keep what is malformed or invalid once parsed.
    .filter((url) => ['malformed', 'invalid'].includes(expectationFor(url).answer))

  const failure = await fc.assert(fc.asyncProperty(urls, withinBudget(async (url) => {
    const expected = expectationFor(url)
    stack.alma.resetCalls()
    const response = await send({ method: 'GET', url })
    assert.deepEqual(stack.alma.calls, [], 'no Alma call')
    // An over-long ID breaks CONTRACT 2.2 (400); a path that does not decode is 400 or 404.
    checkContract(response, 'GET', expected.pathname, expected.answer === 'invalid' ? [400] : [400, 404])
  })), { numRuns: runs(100) }).then(() => undefined, (error: unknown) => error)
  t.error(failure, 'the contract holds')
})
