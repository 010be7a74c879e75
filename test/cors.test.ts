import t from 'tap'
import { loadConfig } from '../src/config.js'
import { buildTestApp, startTestStack } from './helper.js'

// CORS_ORIGINS: browser apps on the listed origins may read the answers.

const stack = await startTestStack(t)
stack.alma.addUser({ primary_id: 'cors-1', fees: [] })

t.test('listed origins only', async (t) => {
  const { app } = await buildTestApp(t, { config: { ...loadConfig(), corsOrigins: ['https://app.example.ac.uk'] } })
  const allowed = await app.inject({ method: 'GET', url: '/users/cors-1/fees', headers: { origin: 'https://app.example.ac.uk' } })
  t.equal(allowed.statusCode, 200)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.ac.uk')
  t.equal(allowed.headers['cache-control'], 'no-store')
  t.equal(allowed.headers['access-control-expose-headers'], 'X-Cache, Retry-After', 'where the answer came from, and when to retry a 503, readable by the app')
  const refusedId = await app.inject({ method: 'GET', url: '/users/cors-1/fees/a%20b', headers: { origin: 'https://app.example.ac.uk' } })
  t.equal(refusedId.statusCode, 400)
  t.equal(refusedId.headers['access-control-expose-headers'], 'X-Cache, Retry-After', 'on errors too, where a 503 carries its Retry-After')
  const other = await app.inject({ method: 'GET', url: '/users/cors-1/fees', headers: { origin: 'https://evil.example' } })
  t.equal(other.headers['access-control-allow-origin'], undefined)
  const preflight = await app.inject({ method: 'OPTIONS', url: '/users/cors-1/fees', headers: { origin: 'https://app.example.ac.uk', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key, x-anything' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['x-content-type-options'], 'nosniff', 'nosniff, as on every answer of the app')
  t.equal(preflight.headers['access-control-allow-methods'], 'GET', 'the only method the API has')
  t.equal(preflight.headers['access-control-max-age'], '600', 'preflights cached for ten minutes')
  t.equal(preflight.headers['access-control-allow-headers'], 'Content-Type, X-Api-Key, Authorization', "API Gateway's headers, not whatever a preflight asks for")
  const foreign = await app.inject({ method: 'OPTIONS', url: '/users/cors-1/fees', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-from-elsewhere' } })
  t.notMatch(JSON.stringify(foreign.headers), /x-from-elsewhere/, 'nor echoed to a refused origin')
  // Refused as no preflight: in the contract's shape, like every other error.
  for (const headers of [{}, { origin: 'https://app.example.ac.uk' }]) {
    const refused = await app.inject({ method: 'OPTIONS', url: '/users/cors-1/fees', headers })
    t.equal(refused.statusCode, 400, JSON.stringify(headers))
    t.strictSame(refused.json(), { statusCode: 400, error: 'Bad Request', message: 'Invalid Preflight Request' }, 'saying why')
    t.equal(refused.headers['cache-control'], 'no-store')
  }
})

t.test('any origin', async (t) => {
  for (const corsOrigins of [['*'], ['https://app.example.ac.uk', '*']]) {
    const { app } = await buildTestApp(t, { config: { ...loadConfig(), corsOrigins } })
    const response = await app.inject({ method: 'GET', url: '/users/cors-1/fees', headers: { origin: 'https://anywhere.example' } })
    t.equal(response.headers['access-control-allow-origin'], '*', `CORS_ORIGINS ${corsOrigins.join(',')}`)
  }
})

t.test('the router\'s refusals too, which come before any hook', async (t) => {
  const refusedByRouter = ['/users/cors-1/fees/50%zz', `/users/${'x'.repeat(600)}/fees`]
  const cases = [
    { corsOrigins: ['https://app.example.ac.uk'], origin: 'https://app.example.ac.uk', allowed: 'https://app.example.ac.uk' },
    { corsOrigins: ['https://app.example.ac.uk'], origin: 'https://evil.example', allowed: undefined },
    { corsOrigins: ['https://app.example.ac.uk'], origin: undefined, allowed: undefined },
    { corsOrigins: ['https://app.example.ac.uk', '*'], origin: 'https://anywhere.example', allowed: '*' },
    { corsOrigins: undefined, origin: 'https://app.example.ac.uk', allowed: undefined }
  ]
  for (const { corsOrigins, origin, allowed } of cases) {
    const { app } = await buildTestApp(t, { config: { ...loadConfig(), corsOrigins } })
    const headers = origin === undefined ? {} : { origin }
    const routed = await app.inject({ method: 'GET', url: '/users/cors-1/fees/a%20b', headers })
    for (const url of refusedByRouter) {
      const refused = await app.inject({ method: 'GET', url, headers })
      const what = `${url.slice(0, 30)} from ${origin} under ${corsOrigins?.join(',')}`
      t.equal(refused.statusCode, 400, what)
      t.equal(refused.headers['access-control-allow-origin'], allowed, `${what}: as @fastify/cors answers`)
      t.equal(refused.headers['access-control-allow-origin'], routed.headers['access-control-allow-origin'], `${what}: as for a 400 after routing`)
      t.equal(refused.headers['access-control-expose-headers'], routed.headers['access-control-expose-headers'], what)
      t.equal(refused.headers.vary, routed.headers.vary, what)
      t.equal(refused.headers['cache-control'], 'no-store', what)
    }
  }
})

t.test('none when unset', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/users/cors-1/fees', headers: { origin: 'https://app.example.ac.uk' } })
  t.equal(response.headers['access-control-allow-origin'], undefined)
})
