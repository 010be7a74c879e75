import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

// A peer between the service and a real protocol peer (dynalite, fauxqs) that
// passes requests through unless told to fail the next ones: answer with a
// given status and body (a throttling error, a 500), never answer at all,
// answer the headers and the first byte of a body and then nothing more, or
// pass the request on at once and hold the peer's answer back for a while.
// It keeps the time span of each request, for the benchmark's sequential depth.

export type ProxyFault = ({ hang: true } | { stall: true } | { lateMs: number } | { status: number, body: string, contentType?: string }) & {
  /** only the requests for this AWS operation (their X-Amz-Target ends with `.<operation>`) */
  operation?: string
}

export interface Span { startedAt: number, endedAt: number }

export interface FaultyProxy {
  url: string
  /** requests seen, faulted or not */
  readonly requests: number
  /** start and end (performance.now()) of each answered request, in arrival order */
  readonly spans: Span[]
  /** the next `count` requests get `fault` */
  failNext (count: number, fault: ProxyFault): void
  /** every request from now on gets `fault`, until cleared */
  failAll (fault: ProxyFault | undefined): void
  close (): Promise<void>
}

export async function startFaultyProxy (target: string): Promise<FaultyProxy> {
  const upstream = new URL(target)
  const queued: ProxyFault[] = []
  let always: ProxyFault | undefined
  let requests = 0
  const spans: Span[] = []
  const sockets = new Set<Socket>()

  const server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    requests++
    const span = { startedAt: performance.now(), endedAt: Number.NaN }
    spans.push(span)
    response.on('finish', () => { span.endedAt = performance.now() })
    const applies = (candidate: ProxyFault | undefined) => candidate !== undefined &&
      (candidate.operation === undefined || String(incoming.headers['x-amz-target']).endsWith(`.${candidate.operation}`))
    const fault = applies(queued[0]) ? queued.shift() : applies(always) ? always : undefined
    if (fault !== undefined && 'hang' in fault) return // read nothing, answer nothing
    if (fault !== undefined && 'stall' in fault) {
      incoming.resume()
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': '1000' }).write('{')
      return
    }
    if (fault !== undefined && 'status' in fault) {
      incoming.resume()
      response.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/x-amz-json-1.0' }).end(fault.body)
      return
    }
    const outgoing = forward({
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers
    }, (answer) => {
      const pass = () => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      }
      if (fault !== undefined && 'lateMs' in fault) setTimeout(pass, fault.lateMs)
      else pass()
    })
    outgoing.on('error', () => response.destroy())
    incoming.pipe(outgoing)
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests () { return requests },
    spans,
    failNext (count, fault) { for (let i = 0; i < count; i++) queued.push(fault) },
    failAll (fault) { always = fault },
    close () {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => { server.close(() => resolve()) })
    }
  }
}
