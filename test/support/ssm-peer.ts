import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

// A stand-in for SSM's GetParameter over its real JSON protocol (AWS JSON 1.1),
// so that the AWS SDK client is tested as it is, not mocked.

export type SsmMode = 'answer' | 'fail' | 'no-value' | 'empty' | 'hang' | 'stall'

export interface SsmPeer {
  url: string
  /** what each request asked for: the X-Amz-Target and the body */
  asked: Array<{ target: string, name: unknown, withDecryption: unknown }>
  mode: SsmMode
  /** the parameter's value in mode 'answer' */
  value: string
  /** the parameter's version, as SSM numbers each value put */
  version: number
  /** the next `count` requests fail whatever the mode */
  failNext (count: number): void
  /** connections open to it now */
  openConnections (): Promise<number>
  close (): Promise<void>
}

export async function startSsmPeer (value: string): Promise<SsmPeer> {
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => { body += chunk.toString() })
    request.on('end', () => {
      const { Name, WithDecryption } = JSON.parse(body) as { Name?: unknown, WithDecryption?: unknown }
      peer.asked.push({ target: String(request.headers['x-amz-target']), name: Name, withDecryption: WithDecryption })
      if (peer.mode === 'hang') return
      response.setHeader('content-type', 'application/x-amz-json-1.1')
      // The headers and the start of a body, then nothing more.
      if (peer.mode === 'stall') {
        response.writeHead(200)
        response.write('{"Parameter":')
        return
      }
      if (failures > 0 || peer.mode === 'fail') {
        failures--
        response.statusCode = 500
        response.end(JSON.stringify({ __type: 'InternalServerError', message: 'down' }))
      } else {
        const Value = peer.mode === 'answer' ? peer.value : peer.mode === 'empty' ? '' : undefined
        response.end(JSON.stringify({ Parameter: { Name, Type: 'SecureString', Value, Version: peer.version } }))
      }
    })
  })
  let failures = 0
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const peer: SsmPeer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked: [],
    mode: 'answer',
    value,
    version: 1,
    failNext: (count) => { failures = count },
    openConnections: () => new Promise((resolve, reject) => { server.getConnections((error, count) => { if (error === null) resolve(count); else reject(error) }) }),
    close: () => new Promise((resolve) => {
      server.close(() => resolve())
      // close() waits for open connections, and a hanging request's never ends.
      server.closeAllConnections()
    })
  }
  return peer
}
