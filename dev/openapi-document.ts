import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openApiDocument } from './api-docs.js'

// The OpenAPI document of the seven routes, as docs/openapi.json holds it. The
// app is built (not started) with placeholder settings: describing the routes
// needs no DynamoDB, queue or Alma.
const PLACEHOLDERS = {
  USER_CACHE_TABLE_NAME: 'users',
  LOAN_CACHE_TABLE_NAME: 'loans',
  REQUEST_CACHE_TABLE_NAME: 'requests',
  FEE_CACHE_TABLE_NAME: 'fees',
  USER_QUEUE_URL: 'http://127.0.0.1:1/queue/users',
  AWS_REGION: 'eu-west-2',
  ALMA_API_KEY: 'unused'
}

export async function openApiJson (): Promise<string> {
  const app = await buildApp({ config: loadConfig(PLACEHOLDERS), logger: false, plugins: [openApiDocument] })
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
  }
}
