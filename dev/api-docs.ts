import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { gatewayAnswer } from '../deploy/gateway-responses.cjs'
import { KIND_SPECS, KINDS, type AlmaRecord, type Kind } from '../src/resolution/kinds.js'
import { toRecord } from '../src/resolution/records.js'
import { errorResponse } from '../src/schemas/errors.js'
import { EXAMPLE_ITEM_IDS, EXAMPLE_USER_ID } from '../src/schemas/params.js'
import { almaFee, almaLoan, almaRequest } from './demo-records.js'

// The API description, from the route schemas: written to docs/openapi.json by
// `npm run openapi`, and browsable at /docs under `npm run dev`. Neither is in
// the Lambda bundle: this lives in dev/, which src/ never imports.

// What API Gateway itself answers on every route of the deployed API (deploy/gateway-responses.cjs).
// Its 429 is also the usage plan's quota (QUOTA_EXCEEDED), in API Gateway's own words and
// without Retry-After: a client retrying it every second would only be refused again.
const MORE_OF_TYPE = {
  INVALID_API_KEY: '',
  THROTTLED: ". Or, when the usage plan's quota for the key is used up, API Gateway's own message (Limit Exceeded) " +
    "and no Retry-After: the key's requests are refused until the quota's period (a day, a week or a month) ends"
}
const gatewayErrors = Object.fromEntries((['INVALID_API_KEY', 'THROTTLED'] as const).map((type) => {
  const { statusCode, message } = gatewayAnswer(type)
  return [statusCode, errorResponse(statusCode, message, `${message} (from API Gateway, in the deployed API only)${MORE_OF_TYPE[type]}`)]
}))

// Each 200's example: records as the service answers them, shaped by the function that
// shapes them (src/resolution/records.ts) from the demo data's Alma records, the first
// with the ID of its parameter's example. The loans are a list's, with renewable.
const almaRecords: Record<Kind, AlmaRecord[]> = {
  loans: [almaLoan(EXAMPLE_USER_ID, 1), almaLoan(EXAMPLE_USER_ID, 4)],
  requests: [almaRequest(EXAMPLE_USER_ID, 1), almaRequest(EXAMPLE_USER_ID, 2)],
  fees: [almaFee(EXAMPLE_USER_ID, 1), almaFee(EXAMPLE_USER_ID, 2)]
}
const exampleRecords = Object.fromEntries(KINDS.map((kind) => [kind, almaRecords[kind].map((record, index) =>
  toRecord(KIND_SPECS[kind], index === 0 ? { ...record, [KIND_SPECS[kind].idField]: EXAMPLE_ITEM_IDS[kind] } : record))])) as Record<Kind, AlmaRecord[]>

/** The example 200 body of a route, by its URL (/users/:userID, /users/:userID/loans, /users/:userID/loans/:loanID). */
function answerExample (url: string): unknown {
  const [kind, itemParam] = url.split('/').slice(3) as [Kind | undefined, string | undefined]
  if (kind === undefined) return { primary_id: EXAMPLE_USER_ID, ...Object.fromEntries(KINDS.map((kind) => [kind, exampleRecords[kind].slice(0, 1)])) }
  return itemParam === undefined ? exampleRecords[kind] : exampleRecords[kind][0]
}

export const openApiDocument = fp(async (fastify) => {
  await fastify.register(swagger, {
    transform: ({ schema, url }) => ({
      url,
      schema: schema.response === undefined
        ? schema
        : { ...schema, response: { ...schema.response, 200: { ...(schema.response as Record<number, object>)[200], examples: [answerExample(url)] }, ...gatewayErrors } }
    }),
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Alma cache API',
        version: '1.0.0',
        description: "A library patron's Alma loans, requests and fees, from a DynamoDB cache with Alma as fallback. " +
          'Every answer has Cache-Control: no-store; every 200 has X-Cache: hit, miss, partial or stale. ' +
          'Behind API Gateway, callers send their API key in the x-api-key header.'
      },
      components: {
        securitySchemes: { apiKey: { type: 'apiKey', name: 'x-api-key', in: 'header' } }
      },
      security: [{ apiKey: [] }]
    }
  })
}, { name: 'openapi-document' })

/** The document and a browsable page for it: /docs and /docs/json. */
export const apiDocsPage: FastifyPluginAsync = fp(async (fastify) => {
  await fastify.register(openApiDocument)
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'api-docs-page' })
