import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AnswerTooLargeError, INTERNAL_ERROR_MESSAGE, ServiceError, UnavailableError } from '../errors.js'
import { errorBody } from '../schemas/errors.js'
import { EVERY_ANSWER_HEADERS } from '../schemas/headers.js'
import { invalidIDMessage, MALFORMED_PATH_MESSAGE } from '../resolution/identifiers.js'
import { recordAsUnrouted } from './observability.js'

/**
 * For Fastify's `frameworkErrors` (app.ts): what Fastify refuses before any hook of
 * ours runs (a path that does not percent-decode, a parameter longer than the
 * router takes) is a malformed identifier too, answered as CONTRACT 2.2 and 2.3 say.
 */
export function malformedPathAnswer (reply: FastifyReply): FastifyReply {
  return reply.code(400).headers(EVERY_ANSWER_HEADERS)
    .send(errorBody(400, MALFORMED_PATH_MESSAGE))
}

/**
 * For Fastify's `clientErrorHandler` option (the local server: API Gateway
 * parses requests before a Lambda sees them): what Node's HTTP parser refuses
 * before Fastify has a request (a malformed request line, a URL and headers
 * over 16 KB) is answered in the contract's shape and never cached. Only the
 * parser's code is logged: the raw request it holds names the user.
 */
export function clientErrorAnswer (this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A client that reset its connection, or one that can no longer be written to, is owed nothing.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  // A request whose headers did not arrive in time (Node's headersTimeout) is no malformed one: 408, as Node and Fastify answer it.
  const [statusCode, message] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'The request line and headers are over the size this server reads']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time']
      : [400, 'Malformed or incomplete HTTP request']
  this.log.info({ code: error.code, status: statusCode }, 'request refused by the HTTP parser')
  socket.end(lastAnswer(statusCode, message))
}

/** An error answer in the contract's shape, for a connection closed after it: its body and headers. */
function lastAnswerParts (statusCode: number, message: string): { json: string, headers: Record<string, string | number> } {
  const json = JSON.stringify(errorBody(statusCode, message))
  return { json, headers: { 'Content-Type': 'application/json; charset=utf-8', ...EVERY_ANSWER_HEADERS, 'Content-Length': Buffer.byteLength(json), Connection: 'close' } }
}

/** An error answer in the contract's shape, written straight to a connection it closes. */
function lastAnswer (statusCode: number, message: string): string {
  const { json, headers } = lastAnswerParts(statusCode, message)
  return `HTTP/1.1 ${statusCode} ${String(STATUS_CODES[statusCode])}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${json}`
}

export interface HttpContractOptions {
  /**
   * the largest answer the transport carries, in bytes of the body as a JSON
   * string (how the Lambda runtime sends a proxy response); none when unset
   */
  maxAnswerBytes?: number
}

/** CONTRACT 2.3: JSON errors without internals, and `Cache-Control: no-store` (and nosniff) on every answer. */
export default fp<HttpContractOptions>(async (fastify, { maxAnswerBytes }) => {
  fastify.addHook('onRequest', async (request, reply) => {
    // HTTP/1.1 wants a 400 for a request without Host (RFC 9112, 3.2). Node's server
    // would send it bare (no body, no no-store): it lets such requests through
    // (requireHostHeader, app.ts) for this one to say it. API Gateway always sends Host.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      return reply.code(400).send(errorBody(400, 'An HTTP/1.1 request must have a Host header'))
    }
    // And for more than one (3.2 again, any version): Node keeps the first and drops the rest.
    if (request.raw.rawHeaders.filter((field, index) => index % 2 === 0 && field.toLowerCase() === 'host').length > 1) {
      return reply.code(400).send(errorBody(400, 'A request must have one Host header, not several'))
    }
  })
  // Node hands a CONNECT request (a proxy's method) to these listeners, and closes the
  // connection without a word where there are none: answered as any other method no route takes.
  fastify.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    // Never reaches Fastify, so no summary line: this one instead (the target, a host, left out).
    fastify.log.info({ method: 'CONNECT', status: 404 }, 'CONNECT request refused')
    socket.end(lastAnswer(404, `No route for CONNECT ${String(request.url)}`))
  })
  // Node answers an Expect naming anything but 100-continue with a bare 417 (no body, no
  // no-store) where there are no listeners. The same status, in the contract's shape; the
  // connection is closed, as a body the client may be holding back is never read.
  fastify.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    // Never reaches Fastify either: a line of its own, as for CONNECT.
    fastify.log.info({ method: request.method, status: 417 }, 'request with an unmet Expect refused')
    const { json, headers } = lastAnswerParts(417, 'The only expectation this server meets is 100-continue')
    response.writeHead(417, headers).end(json)
  })

  // The headers of every answer, set as it is sent, so that no plugin's own
  // (@fastify/static's Cache-Control under the dev server's /docs) replaces them.
  // And errors that others write as text (@fastify/cors refusing an OPTIONS request
  // that is no preflight) take the contract's shape too, their text the message.
  // A plugin's words, not an upstream's: a 4xx's are safe to pass on.
  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(EVERY_ANSWER_HEADERS)
    if (reply.statusCode < 400 || String(reply.getHeader('content-type')).startsWith('application/json')) return payload
    reply.type('application/json; charset=utf-8')
    const said = reply.statusCode < 500 && typeof payload === 'string' && payload !== '' ? payload : undefined
    return JSON.stringify(errorBody(reply.statusCode, said ?? String(STATUS_CODES[reply.statusCode])))
  })

  if (maxAnswerBytes !== undefined) {
    // An answer too large to send fails here, as a 502 that says why, in the summary
    // line and the metrics too, rather than past the app, where the caller would get
    // API Gateway's opaque 5xx and the logs a 200. A JSON string spends at most 6
    // bytes on a character (`\u001f`): shorter bodies fit without being measured.
    fastify.addHook('onSend', async (_request, reply, payload) => {
      if (typeof payload !== 'string' || payload.length * 6 <= maxAnswerBytes) return payload
      const bytes = Buffer.byteLength(JSON.stringify(payload))
      if (bytes <= maxAnswerBytes) return payload
      // The error answer keeps the headers set so far: X-Cache belongs to the 200 not sent.
      reply.removeHeader('x-cache')
      throw new AnswerTooLargeError(bytes, maxAnswerBytes)
    })
  }

  // No endpoint takes a body: none is parsed, so none can fail to parse (a POST of
  // broken JSON is the 404 it is, not a 400 about its body). Drained, never read.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume()
    done(null)
  })

  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    recordAsUnrouted(request)
    return reply.code(404).send(errorBody(404, `No route for ${request.method} ${request.url.split('?')[0]}`))
  }
  fastify.setNotFoundHandler(noRoute)

  fastify.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.validation !== undefined) {
      // An empty segment (/users/, /users/x/loans/) names no identifier: that route does not exist,
      // as API Gateway answers it when deployed.
      if (Object.values(request.params as Record<string, string>).includes('')) return noRoute(request, reply)
      // Only path parameters are validated here: the field is userID or an item ID.
      const field = String(error.validation[0]?.instancePath).slice(1)
      return reply.code(400).send(errorBody(400, invalidIDMessage(field)))
    }
    const statusCode = error.statusCode ?? 500
    // A request Fastify refuses before the not-found handler runs (a body whose
    // Content-Type is no media type: 415) is for a route that does not exist all the same.
    if (request.is404 && statusCode < 500) return noRoute(request, reply)
    // The alarm-worthy detail goes to the log only. Refusals (4xx) are in the request's
    // summary line; their messages name the caller's IDs, which stay out of the logs.
    if (statusCode >= 500) {
      request.log.error({ err: error, detail: error instanceof ServiceError ? error.detail : undefined }, 'request failed')
    }
    if (error instanceof UnavailableError) reply.header('retry-after', String(error.retryAfterSeconds))
    // Our own errors carry a caller-safe message; anything else is a bug and says nothing about itself.
    const safe = error instanceof ServiceError || statusCode < 500
    return reply.code(statusCode).send(errorBody(statusCode, safe ? error.message : INTERNAL_ERROR_MESSAGE))
  })
}, { name: 'http-contract' })
