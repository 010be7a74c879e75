import { readFile } from 'node:fs/promises'
import t from 'tap'
import { gatewayResponses } from '../deploy/gateway-responses.cjs'
import { openApiJson } from '../dev/openapi-document.js'
import { EXAMPLE_ITEM_IDS } from '../src/schemas/params.js'
import { buildTestApp, startTestStack } from './helper.js'

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
})
