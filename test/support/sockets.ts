import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'

/** Whether `socket` closes within `ms` (false once they are over). */
export const closesWithin = (socket: Socket, ms: number): Promise<boolean> => new Promise((resolve) => {
  socket.once('close', () => { resolve(true) })
  setTimeout(() => { resolve(false) }, ms).unref()
})

/**
 * A loopback HTTP peer that keeps idle connections open far longer than any test
 * waits (Node says so in its Keep-Alive header, and undici heeds it): only the
 * client's closing ends them. Closed, with its connections, when the test ends.
 */
export async function keptAlivePeer (t: Test, answer: RequestListener): Promise<{ server: Server, url: string, openConnections: () => Promise<number> }> {
  const server = createServer(answer)
  server.keepAliveTimeout = 600_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  const openConnections = () => new Promise<number>((resolve, reject) => {
    server.getConnections((error, count) => { if (error === null) resolve(count); else reject(error) })
  })
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, openConnections }
}

/** For keptAlivePeer: an AWS JSON-protocol peer answering every call with an empty object. */
export const emptyAwsAnswer: RequestListener = (request, response) => {
  request.resume()
  request.on('end', () => { response.setHeader('content-type', 'application/x-amz-json-1.0'); response.end('{}') })
}
