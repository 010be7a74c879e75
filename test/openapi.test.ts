import { readFile } from 'node:fs/promises'
import { Ajv } from 'ajv'
import t from 'tap'
import { gatewayResponses } from '../deploy/gateway-responses.cjs'
import { seedUser } from '../dev/demo-users.js'
import { apiDocsPage } from '../dev/api-docs.js'
import { openApiJson } from '../dev/openapi-document.js'
import { loadConfig } from '../src/config.js'
import { EXAMPLE_ITEM_IDS } from '../src/schemas/params.js'
import { buildTestApp, DAY, startTestStack } from './helper.js'

// docs/openapi.json is generated from the route schemas (npm run openapi); a
// route changed without regenerating it fails here.

const generated = await openApiJson()
const committed = await readFile('docs/openapi.json', 'utf8')

t.test('docs/openapi.json is current', async (t) => {
  t.equal(committed, generated, 'docs/openapi.json is stale: run npm run openapi')
})

t.test('every route documents its params, its 200 body and its errors with examples', async (t) => {
  const document = JSON.parse(generated) as { paths: Record<string, { get: Record<string, any> }> }
  t.equal(Object.keys(document.paths).length, 7)
  for (const [path, { get }] of Object.entries(document.paths)) {
    const declared = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1])
    t.same(get.parameters.map((parameter: { name: string }) => parameter.name), declared, `${path}: params`)
    t.ok(get.parameters.every((parameter: Record<string, any>) => parameter.schema.pattern !== undefined && parameter.example !== undefined), `${path}: patterns and examples`)
    // Clients generated in Go or Rust check IDs with RE2, which has no lookaround, and refuse a pattern that has any.
    t.same(get.parameters.filter((parameter: Record<string, any>) => /\(\?<?[=!]/.test(parameter.schema.pattern) || parameter.schema.maxLength === undefined).map((parameter: { name: string }) => parameter.name), [],
      `${path}: patterns without lookaround, lengths as maxLength`)
    t.ok(get.operationId, `${path}: operationId`)
    t.ok(get.responses['200'].content['application/json'].schema, `${path}: 200 body`)
    t.match(get.responses['200'].description, /X-Cache/, `${path}: X-Cache explained`)
    for (const status of ['400', '403', '404', '429', '500', '502', '503', '504']) {
      const error = get.responses[status]?.content['application/json']
      t.match(error?.schema.required, ['statusCode', 'error', 'message'], `${path} ${status}: the error body`)
      t.equal(error?.example?.statusCode, Number(status), `${path} ${status}: an example`)
    }
    t.same(get.responses['200'].headers['X-Cache'].schema.enum, ['hit', 'miss', 'partial', 'stale'], `${path}: the X-Cache values`)
    t.same(Object.entries(get.responses).filter(([, response]: [string, any]) => response.headers['Cache-Control']?.schema.enum[0] !== 'no-store').map(([status]) => status), [],
      `${path}: Cache-Control: no-store on every answer`)
    t.same(Object.entries(get.responses).filter(([, response]: [string, any]) => response.headers['X-Content-Type-Options']?.schema.enum[0] !== 'nosniff').map(([status]) => status), [],
      `${path}: X-Content-Type-Options: nosniff on every answer`)
    t.same(Object.entries(get.responses).filter(([, response]: [string, any]) => response.headers['Retry-After'] !== undefined).map(([status]) => status), ['429', '503'],
      `${path}: Retry-After on the 503 and API Gateway's throttling 429`)
  }
})

t.test("API Gateway's own answers are documented as the deploy writes them", async (t) => {
  const document = JSON.parse(generated) as { paths: Record<string, { get: Record<string, any> }> }
  const templates = Object.values(gatewayResponses({}) as Record<string, { Properties: { ResponseType: string, StatusCode: string, ResponseParameters: Record<string, string>, ResponseTemplates: Record<string, string> } }>)
  const template = (type: string) => JSON.parse(templates.find(({ Properties }) => Properties.ResponseType === type)?.Properties.ResponseTemplates['application/json'] ?? 'null')
  // A 429 of the usage plan's quota is no throttling: it says nothing of when to retry, and a second later is refused again.
  const quiet429s = templates.filter(({ Properties }) => Properties.StatusCode === '429' && !('gatewayresponse.header.Retry-After' in Properties.ResponseParameters))
    .map(({ Properties }) => Properties.ResponseType)
  t.same(quiet429s, ['QUOTA_EXCEEDED'])
  for (const { get } of Object.values(document.paths)) {
    t.strictSame(get.responses['403'].content['application/json'].example, template('INVALID_API_KEY'))
    t.strictSame(get.responses['429'].content['application/json'].example, template('THROTTLED'))
    t.match(get.responses['429'].description, /quota[^.]*no Retry-After/, 'the quota\'s 429, which has no Retry-After')
    t.match(get.responses['429'].headers['Retry-After'].description, /never on a 429 of a used-up quota/)
  }
})

t.test('the documented 400 and 404 examples are what the service answers', async (t) => {
  await startTestStack(t)
  const { app } = await buildTestApp(t)
  const document = JSON.parse(generated) as { paths: Record<string, { get: Record<string, any> }> }
  const example = (path: string, status: string) => document.paths[path]?.get.responses[status].content['application/json'].example
  const answer = async (url: string) => (await app.inject({ method: 'GET', url })).json()
  t.strictSame(await answer('/users/bad!id/loans'), example('/users/{userID}/loans', '400'))
  t.strictSame(await answer('/users/jsmith01/fees/bad!id'), example('/users/{userID}/fees/{feeID}', '400'))
  t.strictSame(await answer(`/users/jsmith01/loans/${EXAMPLE_ITEM_IDS.loans}`), example('/users/{userID}/loans/{loanID}', '404'), 'a user Alma does not have, so no such loan either')
  t.strictSame(await answer('/users/jsmith01'), example('/users/{userID}', '404'))
  // What the router refuses before the IDs are read (an ID over 512 characters, percent-encoding
  // that does not decode) is a 400 too, and its message is one the document names.
  for (const path of Object.keys(document.paths)) {
    for (const id of ['a'.repeat(600), 'a%E9']) {
      const url = path.replace('{userID}', id).replace(/\{\w+ID\}$/, EXAMPLE_ITEM_IDS.loans)
      const refused = await answer(url)
      t.equal(refused.statusCode, 400, `${path}: ${id.slice(0, 8)}`)
      t.ok(document.paths[path]?.get.responses['400'].description.includes(refused.message), `${path}: the 400's message "${String(refused.message)}" is documented`)
    }
  }
})

t.test("the dev server's API page, its files and its JSON have the headers of every answer", async (t) => {
  await startTestStack(t)
  const { app } = await buildTestApp(t, { plugins: [apiDocsPage] })
  for (const url of ['/docs', '/docs/static/index.html', '/docs/static/swagger-ui.css', '/docs/json']) {
    const response = await app.inject({ method: 'GET', url })
    t.match(response, { statusCode: /^[23]/, headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } }, url)
  }
})

t.test('every example fits its own schema, and each 200 has one', async (t) => {
  const document = JSON.parse(generated) as { paths: Record<string, { get: { parameters: any[], responses: Record<string, any> } }> }
  const ajv = new Ajv({ strict: false, allErrors: true })
  for (const [path, { get }] of Object.entries(document.paths)) {
    for (const { name, schema, example } of get.parameters) t.ok(ajv.validate(schema, example), `${path}: ${name}'s example`, { errors: ajv.errors })
    for (const [status, response] of Object.entries(get.responses)) {
      const { schema, example } = response.content['application/json']
      t.not(example, undefined, `${path} ${status}: an example`)
      t.ok(ajv.validate(schema, example), `${path} ${status}: the example fits the schema`, { errors: ajv.errors })
    }
  }
})

// What an app developer's generated client checks: every answer the service gives,
// its status, body and headers, is one the document describes. Ajv reads the
// document's OpenAPI 3.0 schemas as they are (nullable included); it is Fastify's own
// validator, installed with it.
t.test('every answer of every route is as the document describes it', async (t) => {
  const stack = await startTestStack(t)
  const cached = await seedUser(stack, 'doc-cached', { loans: 3, requests: 2, fees: 2 }, 30 * DAY)
  const fromAlma = await seedUser(stack, 'Doc-Alma', { loans: 4, requests: 2, fees: 2 })
  const expired = await seedUser(stack, 'doc-expired', { loans: 2, requests: 1, fees: 1 }, -DAY)
  // Two browser origins: every CORS header is sent, Vary too. Short Alma budgets, for the 504.
  const { app } = await buildTestApp(t, {
    config: { ...loadConfig(), corsOrigins: ['https://app.example.ac.uk', 'https://other.example.ac.uk'], almaCallTimeoutMs: 200, requestBudgetMs: 400 }
  })
  const document = JSON.parse(generated) as { paths: Record<string, { get: { responses: Record<string, any> } }> }
  const ajv = new Ajv({ strict: false, allErrors: true })
  // Sent by any HTTP server, on any answer: not the document's to describe.
  const transportHeaders = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive'])
  const statuses: Record<string, Set<number>> = {}

  async function compare (path: string, url: string, expected: number, expectedCache?: string) {
    const response = await app.inject({ method: 'GET', url, headers: { origin: 'https://app.example.ac.uk' } })
    t.equal(response.statusCode, expected, `${url}: status`)
    if (expectedCache !== undefined) t.equal(response.headers['x-cache'], expectedCache, `${url}: X-Cache`)
    ;(statuses[path] ??= new Set()).add(response.statusCode)
    const documented = document.paths[path]?.get.responses[String(response.statusCode)]
    if (documented === undefined) return t.fail(`${url}: ${response.statusCode} is not documented`)
    const body: unknown = response.json()
    t.ok(ajv.validate(documented.content['application/json'].schema, body), `${url} ${response.statusCode}: the body fits its schema`, { errors: ajv.errors, body })
    const headers = documented.headers as Record<string, { schema: object }>
    const sent = Object.keys(response.headers).filter((name) => !transportHeaders.has(name)).sort()
    t.same(sent, Object.keys(headers).map((name) => name.toLowerCase()).sort(), `${url} ${response.statusCode}: the headers sent are the headers documented`)
    for (const [name, { schema }] of Object.entries(headers)) {
      const value = response.headers[name.toLowerCase()]
      t.ok(ajv.validate(schema, (schema as { type?: string }).type === 'integer' ? Number(value) : value), `${url} ${response.statusCode}: ${name}: ${String(value)} fits its schema`)
    }
  }

  const paths = Object.keys(document.paths)
  const kindOf = (path: string) => path.split('/')[3] as 'loans' | 'requests' | 'fees' | undefined
  const idOf = { loans: 'loan_id', requests: 'request_id', fees: 'id' } as const
  const url = (path: string, userID: string, itemID = '') => path.replace('{userID}', userID).replace(/\{\w+ID\}$/, itemID)
  const records = { 'doc-cached': cached, 'Doc-Alma': fromAlma, 'doc-expired': expired }
  const anItemOf = (userID: keyof typeof records, path: string) => {
    const kind = kindOf(path)
    return kind === undefined ? '' : String(records[userID][kind][0]?.[idOf[kind]])
  }
  const isItemPath = (path: string) => /ID\}$/.test(path) && path !== '/users/{userID}'

  for (const path of paths) {
    // 200: from the cache, from Alma (a loan without renewable, a fee's user_primary_id object, nulls, numbers), and stale.
    await compare(path, url(path, 'doc-cached', anItemOf('doc-cached', path)), 200, 'hit')
    await compare(path, url(path, 'Doc-Alma', anItemOf('Doc-Alma', path)), 200, 'miss')
    stack.alma.injectFaults(30, { status: 500 })
    await compare(path, url(path, 'doc-expired', anItemOf('doc-expired', path)), 200, 'stale')
    stack.alma.clearFaults()
    const item = anItemOf('Doc-Alma', path)
    await compare(path, url(path, 'bad!id', item), 400)
    if (isItemPath(path)) await compare(path, url(path, 'Doc-Alma', 'bad!id'), 400)
    await compare(path, url(path, 'nobody', item), 404)
    if (isItemPath(path)) await compare(path, url(path, 'Doc-Alma', '999999'), 404)
    stack.alma.injectFaults(30, { status: 500 })
    await compare(path, url(path, 'Doc-Alma', item), 502)
    stack.alma.clearFaults()
    // Retry-After 0: no pause for the process's next calls (those of the next path), which have 400 ms.
    stack.alma.injectFaults(30, { status: 429, retryAfter: '0' })
    await compare(path, url(path, 'Doc-Alma', item), 503)
    stack.alma.clearFaults()
    stack.alma.hang(30)
    await compare(path, url(path, 'Doc-Alma', item), 504)
    stack.alma.clearFaults()
  }
  t.same(Object.values(statuses).map((seen) => [...seen].sort()), paths.map(() => [200, 400, 404, 502, 503, 504]), 'every route answered each status')
})
