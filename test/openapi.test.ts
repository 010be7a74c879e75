import { readFile } from 'node:fs/promises'
import t from 'tap'
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
    for (const status of ['400', '404', '502', '503', '504']) {
      const error = get.responses[status]?.content['application/json']
      t.match(error?.schema.required, ['statusCode', 'error', 'message'], `${path} ${status}: the error body`)
      t.equal(error?.example?.statusCode, Number(status), `${path} ${status}: an example`)
    }
  }
})

t.test('the documented 400 and 404 examples are what the service answers', async (t) => {
  await startTestStack(t)
  const { app } = await buildTestApp(t)
  const document = JSON.parse(generated) as { paths: Record<string, { get: Record<string, any> }> }
  const example = (path: string, status: string) => document.paths[path]?.get.responses[status].content['application/json'].example
  const answer = async (url: string) => (await app.inject({ method: 'GET', url })).json()
  t.same(await answer('/users/bad!id/loans'), example('/users/{userID}/loans', '400'))
  t.same(await answer('/users/jsmith01/fees/bad!id'), example('/users/{userID}/fees/{feeID}', '400'))
  t.same(await answer(`/users/jsmith01/loans/${EXAMPLE_ITEM_IDS.loans}`), example('/users/{userID}/loans/{loanID}', '404'), 'a user Alma does not have, so no such loan either')
  t.same(await answer('/users/jsmith01'), example('/users/{userID}', '404'))
})
