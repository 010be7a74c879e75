import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { get, STATUS_CODES, type Server, type ServerResponse } from 'node:http'
import { request } from 'undici'
import t from 'tap'
import { almaUserRecords, cacheRowsOf } from '../dev/demo-records.js'
import { loadConfig } from '../src/config.js'
import { listenAddress, serverSettings, startFailure, startServer } from '../src/server.js'
import { buildTestApp, DAY, nowSeconds, startTestStack } from './helper.js'

// The server of CONTRACT 6: in-process, and as the built dist/server.js run by node.

process.env.LOG_LEVEL = 'silent'
const stack = await startTestStack(t)
const records = almaUserRecords('server-1', { loans: 2, requests: 1, fees: 1 })
stack.alma.addUser({ primary_id: 'server-1', ...records })
await stack.writeCacheRows(cacheRowsOf('server-1', records, nowSeconds() + DAY))

t.test('listenAddress', async (t) => {
  t.same(listenAddress({}), { port: 3000, host: '127.0.0.1' })
  t.same(listenAddress({ PORT: ' ', HOST: '' }), { port: 3000, host: '127.0.0.1' }, 'blank is unset, not port 0')
  t.same(listenAddress({ PORT: '8080', HOST: '0.0.0.0' }), { port: 8080, host: '0.0.0.0' })
  t.throws(() => listenAddress({ PORT: 'http' }), /PORT/)
  t.throws(() => listenAddress({ PORT: '65536' }), /PORT/, 'one past the last port')
  t.equal(listenAddress({ PORT: '65535' }).port, 65535, 'the last port')
  t.throws(() => listenAddress({ PORT: '-1' }), /PORT/)
  for (const port of ['0x1F90', '1e3', '3.0', '-0', '+80', '0b11']) {
    t.throws(() => listenAddress({ PORT: port }), /PORT/, `${port}: not a port as written, whatever Number() makes of it`)
  }
})

t.test('serverSettings: the contract variables and the address, every problem in one message', async (t) => {
  t.throws(() => serverSettings({ PORT: 'abc' }), /Missing configuration: USER_CACHE_TABLE_NAME.*ALMA_API_KEY_NAME[^.]*\. Invalid configuration: PORT \(not a port number: abc\)/)
  t.throws(() => serverSettings({ ...process.env, PORT: 'abc' }), /^Invalid configuration: PORT/)
  const settings = serverSettings({ ...process.env, PORT: '8080', HOST: '' })
  t.same({ port: settings.port, host: settings.host, config: settings.config }, { port: 8080, host: '127.0.0.1', config: loadConfig() })
})

t.test('over real HTTP, dot segments and all', async (t) => {
  let closed = false
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1', onClose: async () => { closed = true } })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const hit = await request(`${base}/users/server-1`)
  t.equal(hit.statusCode, 200)
  t.equal(hit.headers['x-cache'], 'hit')
  t.equal((await hit.body.json() as { loans: unknown[] }).loans.length, 2)

  stack.alma.resetCalls()
  for (const path of ['/users/..', '/users/.', '/users/server-1/loans/..', '/users/server-1/fees/.']) {
    // node:http sends the path as written; a URL parser would resolve the dots first.
    const { statusCode, body } = await rawGet(base, path)
    t.equal(statusCode, 400, path)
    t.match(body, /"error":"Bad Request"/)
  }
  t.equal(stack.alma.calls.length, 0)
  await app.close()
  t.ok(closed, 'onClose ran')
})

t.test('what the HTTP parser refuses is answered in the contract\'s shape, never cached', async (t) => {
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = (app.server.address() as { port: number }).port
  /** The raw bytes the server answers to `bytes`, until it closes the connection. */
  const exchange = (bytes: string, then: (socket: Socket) => void = (socket) => { socket.end() }) => new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.write(bytes); then(socket) })
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
    socket.on('error', () => {})
    socket.on('close', () => { resolve(answer) })
  })
  const cases = [
    ['a malformed request line', 'GET /users/server-1 HTTP/1.1 junk\r\nHost: x\r\n\r\n', 400],
    ['a URL over the size limit', `GET /users/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431]
  ] as const
  for (const [what, bytes, status] of cases) {
    const answer = await exchange(bytes)
    const [head = '', body = ''] = answer.split('\r\n\r\n')
    t.match(head, new RegExp(`^HTTP/1.1 ${status} `), what)
    t.match(head, /\r\ncache-control: no-store\r\n/i, `${what}: no-store`)
    t.match(head, /\r\nx-content-type-options: nosniff\r\n/i, `${what}: nosniff`)
    t.match(head, /\r\ncontent-type: application\/json/i, `${what}: JSON`)
    t.same(Object.keys(JSON.parse(body)), ['statusCode', 'error', 'message'], `${what}: the contract's error shape`)
    t.equal(JSON.parse(body).statusCode, status)
    // The parser cannot go on reading that connection: the client is told so, and told where the body ends.
    t.match(head, /\r\nconnection: close(\r\n|$)/i, `${what}: the connection closed`)
    t.match(head, new RegExp(`\\r\\ncontent-length: ${Buffer.byteLength(body)}(\\r\\n|$)`, 'i'), `${what}: the body's length`)
  }
  // Node would answer these bare (a Host-less request, an Expect other than 100-continue) or close without a word (CONNECT).
  const answered = [
    ['a request expecting what the server does not meet', 'GET /users/server-1 HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n', 417, 'The only expectation this server meets is 100-continue'],
    ['an HTTP/1.1 request without Host', 'GET /users/server-1 HTTP/1.1\r\n\r\n', 400, 'An HTTP/1.1 request must have a Host header'],
    // RFC 9112, 3.2: more than one Host is a 400 as none is; which one names the server is not for the server to guess.
    ['a request with two Host headers', 'GET /users/server-1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400, 'A request must have one Host header, not several'],
    ['an HTTP/1.0 request with two Host headers', 'GET /users/server-1 HTTP/1.0\r\nhost: x\r\nHOST: x\r\n\r\n', 400, 'A request must have one Host header, not several'],
    ['a CONNECT request', 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n', 404, 'No route for CONNECT 127.0.0.1:443']
  ] as const
  for (const [what, bytes, status, message] of answered) {
    const [head = '', body = ''] = (await exchange(bytes)).split('\r\n\r\n')
    t.match(head, new RegExp(`^HTTP/1.1 ${status} `), what)
    t.match(head, /\r\ncache-control: no-store\r\n/i, `${what}: no-store`)
    t.strictSame(JSON.parse(body), { statusCode: status, error: STATUS_CODES[status], message }, what)
    t.match(head, new RegExp(`\\r\\ncontent-length: ${Buffer.byteLength(body)}(\\r\\n|$)`, 'i'), `${what}: the body's length`)
  }
  t.match(await exchange('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'), /\r\nconnection: close\r\n/i, 'CONNECT: the connection closed, and the client told so')
  t.match(await exchange('GET /users/server-1 HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n', (socket) => { setTimeout(() => socket.destroy(), 2000).unref() }), /\r\nconnection: close\r\n/i, 'Expect: the connection closed, the body held back never waited for')
  // 100-continue is met (Node's own interim answer), and the request served.
  t.match(await exchange('GET /users/server-1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', () => {}), /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 /, 'Expect: 100-continue')
  // RFC 9112 allows an empty Host (a URI with no authority): it is there, and served.
  t.match(await exchange('GET /users/server-1 HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n', () => {}), /^HTTP\/1.1 200 /, 'an empty Host is a Host')
  // Host counted among the header names only: a header whose value is "host" is no second Host.
  t.match(await exchange('GET /users/server-1 HTTP/1.1\r\nHost: x\r\nX-Note: host\r\nConnection: close\r\n\r\n', () => {}), /^HTTP\/1.1 200 /, 'a header valued "host" is no second Host')
  // (The connection left open: HTTP/1.0 closes it after the answer.)
  const http10 = await exchange('GET /users/server-1 HTTP/1.0\r\n\r\n', () => {})
  t.match(http10, /^HTTP\/1.1 200 /, 'HTTP/1.0 has no Host to require')
  // A client that resets its connection mid-request is owed nothing, and the server goes on.
  t.equal(await exchange('GET /users/server-1 HTTP/1.1\r\nHo', (socket) => { setTimeout(() => socket.resetAndDestroy(), 50) }), '')
  t.equal((await request(`http://127.0.0.1:${port}/users/server-1`)).statusCode, 200)
})

t.test('a closed server leaves no signal handlers behind', async (t) => {
  const before = process.listenerCount('SIGTERM')
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  t.equal(process.listenerCount('SIGTERM'), before + 1, 'SIGTERM closes it gracefully')
  await app.close()
  t.equal(process.listenerCount('SIGTERM'), before)
})

t.test('what the HTTP parser refuses is logged by its code and status, not the raw request (which names the user)', async (t) => {
  const { app, logs } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  await rawExchange(app, 'GET /users/parser-patron-42 HTTP/1.1 junk\r\nHost: x\r\n\r\n')
  const refused = logs().find((line) => line.msg === 'request refused by the HTTP parser')
  t.match(refused, { code: /^HPE_/, status: 400 })
  t.notMatch(JSON.stringify(refused), /rawPacket|parser-patron/)
})

t.test('a CONNECT request, which never reaches Fastify, is logged all the same', async (t) => {
  const { app, logs } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  await rawExchange(app, 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  t.match(logs().filter((line) => line.method === 'CONNECT'), [{ msg: 'CONNECT request refused', status: 404 }])
})

t.test('a request with an Expect the server does not meet, which never reaches Fastify, is logged all the same', async (t) => {
  const { app, logs } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  await rawExchange(app, 'GET /users/expecting-patron HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nConnection: close\r\n\r\n')
  const refused = logs().filter((line) => line.msg === 'request with an unmet Expect refused')
  t.match(refused, [{ method: 'GET', status: 417 }])
  t.notMatch(JSON.stringify(refused), /expecting-patron/)
})

// RFC 9110, 15.5.9; 400 is the contract's status for a malformed ID.
t.test('a request not sent whole in time is a 408, as Node and Fastify answer it, in the contract\'s shape', async (t) => {
  const { app, logs } = await buildTestApp(t)
  // Node's own timeouts, shortened: headers within 300 ms, checked every 50 ms.
  // (connectionsCheckingInterval is read when the server starts listening.)
  Object.assign(app.server, { headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const answer = await rawExchange(app, 'GET /users/slow-patron HTTP/1.1\r\nHost: x\r\n')
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  t.match(head, /^HTTP\/1.1 408 /)
  t.match(head, /\r\ncache-control: no-store\r\n/i)
  t.strictSame(JSON.parse(body), { statusCode: 408, error: STATUS_CODES[408], message: 'The request was not received in time' })
  t.match(logs().find((line) => line.msg === 'request refused by the HTTP parser'), { code: 'ERR_HTTP_REQUEST_TIMEOUT', status: 408 })
})

t.test('a connection stalled in its request body gets its one answer at once, and no 408 after it', async (t) => {
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  t.equal(app.server.keepAliveTimeout, 72_000, "Fastify's default keep-alive timeout")
  // Shortened, for the connections made from now on.
  app.server.keepAliveTimeout = 300
  const answer = await rawExchange(app, 'GET /users/server-1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nten bytes.')
  t.equal(answer.match(/^HTTP\/1\.1 /gm)?.length, 1, 'one answer, no 408 after it')
  t.match(answer, /^HTTP\/1\.1 200 /)
})

// Whatever its framing, no request body is read, and no timer ends the connection (Fastify sets requestTimeout to 0).
const TRICKLED_BODIES = [
  { framing: 'Content-Length', head: 'Content-Length: 100000000\r\n\r\nabc', more: 'a' },
  // A chunk of one byte at a time, never the last chunk.
  { framing: 'chunked', head: 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', more: '1\r\na\r\n' }
]
for (const { framing, head, more } of TRICKLED_BODIES) {
  t.test(`a connection whose body (${framing}) trickles in is closed after its answer`, async (t) => {
    const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    // Shortened: a connection idle this long is ended anyway; one byte of body within it keeps it open.
    app.server.keepAliveTimeout = 300
    const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1', () => {
      socket.write(`GET /users/server-1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n${head}`)
    })
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
    socket.on('error', () => {})
    const trickle = setInterval(() => { if (socket.writable) socket.write(more) }, 100)
    const closed = once(socket, 'close').then(() => true)
    const stillOpen = new Promise<false>((resolve) => { setTimeout(() => { resolve(false) }, 5000) })
    t.teardown(() => { clearInterval(trickle); socket.destroy() })
    t.ok(await Promise.race([closed, stillOpen]), 'closed within 5 s, however long the body would take')
    t.match(answer, /^HTTP\/1\.1 200 /)
    t.match(answer, /\r\nconnection: close\r\n/i, 'the client told so')
    t.equal(answer.match(/^HTTP\/1\.1 /gm)?.length, 1, 'one answer')
  })
}

t.test('a request with an empty body (Content-Length: 0, as some clients send on a GET) keeps its connection for the next', async (t) => {
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  // Pipelined: the second request asks for the connection to close after it, so the exchange ends.
  const get = (header: string) => `GET /users/server-1 HTTP/1.1\r\nHost: x\r\n${header}\r\n\r\n`
  const answers = (await rawExchange(app, get('Content-Length: 0') + get('Connection: close'))).split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2, 'both answered on the one connection')
  t.match(answers[0], /^HTTP\/1\.1 200 /)
  t.match(answers[0], /\r\nconnection: keep-alive\r\n/i, 'no body to drain: kept alive')
  t.match(answers[1], /^HTTP\/1\.1 200 /)
})

t.test('a client that resets its connection mid-request is owed nothing, and not logged as refused', async (t) => {
  const { app, logs } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const closedOnTheServer = once(app.server, 'connection').then(async ([connection]) => await new Promise((resolve) => { (connection as Socket).on('close', resolve) }))
  const socket = connect((app.server.address() as { port: number }).port, '127.0.0.1', () => {
    socket.write('GET /users/reset-patron HTTP/1.1\r\nHo')
    setTimeout(() => socket.resetAndDestroy(), 50)
  })
  socket.on('error', () => {})
  await closedOnTheServer
  t.notOk(logs().some((line) => line.msg === 'request refused by the HTTP parser'), JSON.stringify(logs()))
})

t.test('a request that reaches the server while it closes is answered by the service, then the connection closes', async (t) => {
  const app = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  stack.alma.addUser({ primary_id: 'server-slow', ...almaUserRecords('server-slow', { loans: 1, requests: 0, fees: 0 }) })
  // Long enough for the second request to arrive well before the first is answered, however busy the machine.
  stack.alma.latencyMs = 1500
  t.teardown(() => { stack.alma.latencyMs = 0 })
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const ended = once(socket, 'close')
  await once(socket, 'connect')
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`
  // The first request waits on Alma; the server starts closing; the second arrives on the same connection.
  // (Each step waits for the last, not for a fixed time: a test process held up longer than that would
  // close the server before it had read the first request, and find the connection idle.)
  socket.write(get('/users/server-slow/loans'))
  while (!stack.alma.calls.some((call) => call.path.includes('/server-slow/'))) await new Promise((resolve) => setTimeout(resolve, 5))
  const closed = app.close()
  while (app.server.listening) await new Promise(setImmediate)
  socket.write(get('/users/server-1'))
  await closed
  await ended

  const answers = received.split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2, 'both requests answered')
  const second = answers[1] ?? ''
  t.match(second, /^HTTP\/1\.1 200 /, 'the second is served, not shed with a bare 503')
  t.match(second, /\r\ncache-control: no-store\r\n/i)
  t.match(second, /\r\nx-cache: hit\r\n/i)
  t.match(second, /\r\nconnection: close\r\n/i, 'and the connection closes after it')
})

/** A route's answer held until the test releases it; `reached` once the route has been asked. */
function held () {
  let release = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let asked = () => {}
  const reached = new Promise<void>((resolve) => { asked = resolve })
  return { release, released, asked, reached }
}

t.test('closing, keep-alive connections busy at the start end once every answer is out, each answer whole', async (t) => {
  // Two routes of the test's own, each answering when the test says: A small, B large.
  const small = held()
  const large = held()
  const body = JSON.stringify({ padding: 'x'.repeat(8 * 1024 * 1024) })
  let largeAnswer: ServerResponse | undefined
  const app = await startServer({
    config: loadConfig(),
    port: 0,
    host: '127.0.0.1',
    plugins: [async (fastify) => {
      fastify.get('/held/small', async () => { small.asked(); await small.released; return { small: true } })
      fastify.get('/held/large', async (_request, reply) => { large.asked(); await large.released; largeAnswer = reply.raw; return reply.type('application/json').send(body) })
    }]
  })
  const port = (app.server.address() as { port: number }).port
  const open = (path: string) => {
    const socket = connect(port, '127.0.0.1', () => { socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`) })
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => { received.push(chunk) })
    return { socket, received, ended: once(socket, 'close') }
  }
  const a = open('/held/small')
  const b = open('/held/large')
  await Promise.all([small.reached, large.reached])
  // B's client reads nothing for now: its answer, once ended, waits in buffers.
  b.socket.pause()
  const closed = app.close()
  // B answers once the server has begun to close (Node itself then ends, once, the connections idle).
  while (app.server.listening) await new Promise(setImmediate)
  large.release()
  // B's answer handed to its connection (its headers written), not a fixed time a busy machine can outlast.
  while (largeAnswer?.headersSent !== true) await new Promise((resolve) => setTimeout(resolve, 5))
  // A's answer goes out while B's is still on its way: B's connection must not be cut.
  small.release()
  await a.ended
  b.socket.resume()
  await b.ended
  await closed
  const answer = Buffer.concat(b.received).toString()
  const [head = '', sent = ''] = answer.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 200 /)
  t.equal(sent.length, body.length, 'the large answer arrived whole')
  t.match(Buffer.concat(a.received).toString(), /^HTTP\/1\.1 200 [^]*\{"small":true\}$/, 'the small one too')
})

t.test('closing, a connection with two answers under way (pipelined) ends after the second, not the first', async (t) => {
  const first = held()
  const second = held()
  const app = await startServer({
    config: loadConfig(),
    port: 0,
    host: '127.0.0.1',
    plugins: [async (fastify) => {
      fastify.get('/held/first', async () => { first.asked(); await first.released; return { first: true } })
      fastify.get('/held/second', async () => { second.asked(); await second.released; return { second: true } })
    }]
  })
  const port = (app.server.address() as { port: number }).port
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`
  const socket = connect(port, '127.0.0.1', () => { socket.write(get('/held/first') + get('/held/second')) })
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const ended = once(socket, 'close')
  await Promise.all([first.reached, second.reached])
  const closed = app.close()
  while (app.server.listening) await new Promise(setImmediate)
  first.release()
  // The first answer out, and the connection still open for the second.
  while (!received.includes('{"first":true}') && !socket.destroyed) await new Promise((resolve) => setTimeout(resolve, 5))
  second.release()
  await ended
  await closed
  const answers = received.split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2, 'both answered')
  t.match(answers[1], /^HTTP\/1\.1 200 [^]*\{"second":true\}$/, 'the second whole')
})

t.test('closing, a keep-alive connection busy at the start ends after its answer, whatever it answered before', async (t) => {
  const later = held()
  const app = await startServer({
    config: loadConfig(),
    port: 0,
    host: '127.0.0.1',
    plugins: [async (fastify) => {
      fastify.get('/held/now', async () => ({ now: true }))
      fastify.get('/held/later', async () => { later.asked(); await later.released; return { later: true } })
    }]
  })
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`
  const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const ended = once(socket, 'close').then(() => true)
  await once(socket, 'connect')
  // One answer out before the close, then a second request on the same connection, busy when it starts.
  socket.write(get('/held/now'))
  while (!received.includes('{"now":true}')) await new Promise((resolve) => setTimeout(resolve, 5))
  socket.write(get('/held/later'))
  await later.reached
  const closed = app.close()
  while (app.server.listening) await new Promise(setImmediate)
  later.release()
  // Expected at once; the keep-alive timeout (72 s) would end it otherwise.
  const stillOpen = new Promise<false>((resolve) => { setTimeout(() => { resolve(false) }, 5000) })
  t.ok(await Promise.race([ended, stillOpen]), 'the connection ended once its answer was out')
  socket.destroy()
  await closed
  t.match(received, /\{"later":true\}$/, 'the second answer whole')
})

t.test('a start that cannot listen closes what it opened and says so in one line', async (t) => {
  const taken = await startServer({ config: loadConfig(), port: 0, host: '127.0.0.1' })
  t.teardown(() => taken.close())
  const port = (taken.server.address() as { port: number }).port
  let closed = false
  const error = await startServer({ config: loadConfig(), port, host: '127.0.0.1', onClose: async () => { closed = true } }).catch((error: unknown) => error)
  t.ok(closed, 'the app that could not listen was closed, and what it was given to close')
  t.equal(startFailure(error), `Cannot listen: listen EADDRINUSE: address already in use 127.0.0.1:${port}. Check PORT and HOST.`)
  const elsewhere = await startServer({ config: loadConfig(), port: 0, host: '192.0.2.1' }).catch((error: unknown) => error)
  t.match(startFailure(elsewhere), /^Cannot listen: listen EADDRNOTAVAIL: .+\. Check PORT and HOST\.$/, 'a HOST that is no address of this machine')
  const configError = t.throws(() => serverSettings({ ...process.env, PORT: 'abc' }))
  t.equal(startFailure(configError), 'Invalid configuration: PORT (not a port number: abc). See "Configuration" in docs/operations.md.')
  const bug = new TypeError('a bug')
  t.equal(startFailure(bug), bug, 'anything else is printed whole')
  // A code is not enough: only the listen errors read as the operator's mistake.
  const codedBug = Object.assign(new Error('a bug with a code'), { code: 'ERR_INVALID_ARG_TYPE' })
  t.equal(startFailure(codedBug), codedBug, 'an error with another code is printed whole too')
})

/** Writes `request` as it is on a new connection to `app`, and returns all that comes back by the time the connection closes. */
async function rawExchange (app: { server: Server }, request: string): Promise<string> {
  let answer = ''
  const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1', () => { socket.write(request) })
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  socket.on('error', () => {})
  await once(socket, 'close')
  return answer
}

function rawGet (base: string, path: string): Promise<{ statusCode: number, body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: new URL(base).port, path }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString() })
      response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

function waitForLine (child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${seen}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = seen.match(pattern)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1] ?? match[0])
      }
    })
  })
}

// The bundle inlines its dependencies; its coverage would count theirs as ours.
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: '0' }

// tap runs `npm run build` (scripts/build.mjs) before any test file.
t.test('node dist/server.js', async (t) => {
  // The test runner's own variables pass through; the service's are left out.
  const bareEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in stack.env) && name !== 'ALMA_API_KEY_NAME'))
  const bare = spawn(process.execPath, ['dist/server.js'], { env: { ...bareEnv, ...NO_COVERAGE } })
  let stderr = ''
  bare.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [bareCode] = await once(bare, 'exit')
  t.equal(bareCode, 1, 'stops without configuration')
  t.match(stderr, /USER_CACHE_TABLE_NAME, LOAN_CACHE_TABLE_NAME, REQUEST_CACHE_TABLE_NAME, FEE_CACHE_TABLE_NAME, USER_QUEUE_URL, AWS_REGION, ALMA_API_KEY_NAME/)
  t.notMatch(stderr, /at .*\.js:\d+/, 'one clear line, no stack trace')
  // (The AWS SDK may print a warning of its own before it: the last line is the service's.)
  t.match(stderr, /(^|\n)Missing configuration: [^\n]+\n$/, 'the message alone, as startFailure gives it')

  // A port taken: the listen error, told in one line as startFailure gives it, and status 1.
  const holder = createNetServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => holder.close(resolve)))
  const takenPort = (holder.address() as AddressInfo).port
  const refused = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, ...stack.env, ...NO_COVERAGE, PORT: String(takenPort), HOST: '127.0.0.1', LOG_LEVEL: 'silent' }
  })
  let refusedStderr = ''
  refused.stderr.on('data', (chunk: Buffer) => { refusedStderr += chunk.toString() })
  const [refusedCode] = await once(refused, 'exit')
  t.equal(refusedCode, 1, 'stops when it cannot listen')
  t.ok(refusedStderr.endsWith(`\nCannot listen: listen EADDRINUSE: address already in use 127.0.0.1:${takenPort}. Check PORT and HOST.\n`) ||
    refusedStderr === `Cannot listen: listen EADDRINUSE: address already in use 127.0.0.1:${takenPort}. Check PORT and HOST.\n`, 'one line saying so, no stack trace', { stderr: refusedStderr })

  const server = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, ...stack.env, ...NO_COVERAGE, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }
  })
  t.teardown(() => { server.kill('SIGKILL') })
  const base = await waitForLine(server, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const urls = ['/users/server-1', '/users/server-1/loans', '/users/server-1/requests', '/users/server-1/fees',
    `/users/server-1/loans/${records.loans[0]?.loan_id}`, `/users/server-1/requests/${records.requests[0]?.request_id}`, `/users/server-1/fees/${records.fees[0]?.id}`]
  for (const url of urls) {
    const response = await request(`${base}${url}`)
    t.equal(response.statusCode, 200, url)
    t.equal(response.headers['x-cache'], 'hit', url)
    await response.body.dump()
  }
  server.kill('SIGTERM')
  const [exitCode] = await once(server, 'exit')
  t.equal(exitCode, 0, 'graceful shutdown on SIGTERM')
})

t.test('node dist/server.js closing on SIGTERM waits for a request in flight as long as its budget lets it run, past 10 s', async (t) => {
  // Slower than 10 s (close-with-grace's usual delay), within the budget set here.
  stack.alma.addUser({ primary_id: 'server-patient', ...almaUserRecords('server-patient', { loans: 0, requests: 0, fees: 1 }) })
  stack.alma.latencyMs = 11_000
  t.teardown(() => { stack.alma.latencyMs = 0 })
  const server = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, ...stack.env, ...NO_COVERAGE, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ALMA_CALL_TIMEOUT_MS: '14000', REQUEST_BUDGET_MS: '15000' }
  })
  t.teardown(() => { server.kill('SIGKILL') })
  const exited = once(server, 'exit')
  const base = await waitForLine(server, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const answer = request(`${base}/users/server-patient/fees`)
  while (!stack.alma.calls.some((call) => call.path.includes('/server-patient/'))) await new Promise((resolve) => setTimeout(resolve, 5))
  server.kill('SIGTERM')
  const response = await answer
  t.equal(response.statusCode, 200, 'answered')
  t.equal((await response.body.json() as unknown[]).length, 1)
  t.equal((await exited)[0], 0, 'then the server exits, with status 0')
})
