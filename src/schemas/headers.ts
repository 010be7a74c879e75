import type { TSchema } from '@sinclair/typebox'
import { CORS_EXPOSED_HEADERS } from '../config.js'
import type { CacheOutcome } from '../resolution/ports.js'

// The headers of CONTRACT 2.3, for the API description (plugins/http-contract.ts
// and the routes set them). Plain OpenAPI header schemas: @fastify/swagger copies
// them into the document as they are, so they hold nothing OpenAPI 3.0 lacks (no const).

const CACHE_OUTCOMES: { [outcome in CacheOutcome]: string } = {
  hit: 'all from the cache, no Alma call',
  miss: 'all from Alma',
  partial: 'from both: records of each, or the cached ones after Alma was asked for the rest and no longer had them',
  stale: 'an expired cache copy, Alma failing or its key unreadable'
}

/** The 200 answer's description: what the X-Cache header says. */
const X_CACHE = 'X-Cache says where the answer came from: ' +
  Object.entries(CACHE_OUTCOMES).map(([outcome, meaning]) => `${outcome} (${meaning})`).join(', ') + '.'

/**
 * On every answer, errors and API Gateway's own included (its CORS preflight
 * answers, which have no body, carry only the first): no cache may keep it
 * (CONTRACT 2.3: the data is personal), and no browser may read it as anything
 * but the JSON it is (a title from Alma holding markup stays text).
 */
export const EVERY_ANSWER_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const

// The CORS headers, where the deployment lets browser pages on other origins call
// the API (CORS_ORIGINS; app.ts and, for API Gateway's own answers, deploy/stage-settings.cjs).
const WITH_CORS = 'only where the API allows browser pages on other origins (CORS_ORIGINS)'
const corsHeaders = {
  'Access-Control-Allow-Origin': { type: 'string', description: `${WITH_CORS}: the calling page's origin when it is one of those allowed, or * where any is` },
  'Access-Control-Expose-Headers': { type: 'string', enum: [CORS_EXPOSED_HEADERS.join(', ')], description: `${WITH_CORS}: the headers a page may read besides the usual few` },
  Vary: { type: 'string', enum: ['Origin'], description: `${WITH_CORS}, unless any origin is: the answer depends on the calling page's origin` }
}

const everyAnswerHeaders = {
  'Cache-Control': { type: 'string', enum: [EVERY_ANSWER_HEADERS['Cache-Control']], description: 'on every answer: the data is personal, and no cache may keep it' },
  'X-Content-Type-Options': { type: 'string', enum: [EVERY_ANSWER_HEADERS['X-Content-Type-Options']], description: 'on every answer: JSON, never to be read as anything else' },
  ...corsHeaders
}

/** Of a 200. */
const answerHeaders = {
  ...everyAnswerHeaders,
  'X-Cache': { type: 'string', enum: Object.keys(CACHE_OUTCOMES), description: X_CACHE }
}

/** A route's 200 answer: its body's schema, with the answer's description and headers. */
export const answerSchema = <T extends TSchema>(body: T): T => ({ ...body, description: X_CACHE, headers: answerHeaders })

const RETRY_AFTER = 'seconds to wait before trying again'

/**
 * Of an error; a 503 (and API Gateway's throttling 429) says when to try again.
 * A 429 of the usage plan's quota does not: waiting a second would not help.
 */
export const errorHeaders = (statusCode: number) => statusCode === 503 || statusCode === 429
  ? {
      ...everyAnswerHeaders,
      'Retry-After': {
        type: 'integer',
        minimum: 1,
        description: statusCode === 503 ? RETRY_AFTER : `${RETRY_AFTER}: on a throttling 429 only, never on a 429 of a used-up quota`
      }
    }
  : everyAnswerHeaders
