import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { gatewayAnswer } from '../deploy/gateway-responses.cjs'
import { errorResponse } from '../src/schemas/errors.js'

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

export const openApiDocument = fp(async (fastify) => {
  await fastify.register(swagger, {
    transform: ({ schema, url }) => ({ url, schema: schema.response === undefined ? schema : { ...schema, response: { ...schema.response, ...gatewayErrors } } }),
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
