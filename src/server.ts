import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from './app.js'
import { ConfigError, loadConfig, variable, type Config } from './config.js'
import { STALE_COPIES_GRACE_MS } from './resolution/resolve.js'

export interface ServerOptions {
  config: Config
  /** see AppOptions.plugins */
  plugins?: AppOptions['plugins']
  port: number
  host: string
  /** after the app has closed, on SIGINT, SIGTERM or a crash */
  onClose?: () => Promise<void>
}

/** The local HTTP server of CONTRACT 6: the same app as the Lambdas, on one port. */
export async function startServer ({ config, plugins, port, host, onClose }: ServerOptions) {
  const app = await buildApp({ config, plugins })
  closeOnSignals(app, config, onClose)
  closeAfterAnswerWhenSentABody(app)
  endBusyConnectionsWhenClosing(app)
  try {
    await app.listen({ port, host })
  } catch (error) {
    // Nothing may stay open (the embedded stack of npm run dev, the signal handlers) once the start has failed.
    await app.close()
    throw error
  }
  return app
}

/** On SIGINT, SIGTERM or a crash, the app closes: the requests under way are answered first, within a bound. */
function closeOnSignals (app: FastifyInstance, config: Config, onClose: ServerOptions['onClose']): void {
  // A request may take its whole budget, then the grace for its expired copies: closing waits
  // that long, and a second more for its answer to be written, before it gives up.
  const closeDelayMs = config.requestBudgetMs + STALE_COPIES_GRACE_MS + 1000
  /* c8 ignore next 5: runs on a signal, in the spawned server of test/server.test.ts */
  const graceful = closeWithGrace({ delay: closeDelayMs }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'server closing after an error')
    else app.log.info({ signal }, 'server closing')
    await app.close()
  })
  app.addHook('onClose', async () => {
    graceful.uninstall()
    await onClose?.()
  })
}

/**
 * No endpoint reads a body; one is drained after the answer. Fastify sets Node's
 * requestTimeout to 0, and a body trickled in a byte at a time never lets the
 * keep-alive timeout start: such a connection, held open for good, is closed after its answer.
 */
function closeAfterAnswerWhenSentABody (app: FastifyInstance): void {
  app.server.on('request', ({ headers }: IncomingMessage, response: ServerResponse) => {
    if (headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')) response.shouldKeepAlive = false
  })
}

/**
 * Closing, the server ends the keep-alive connections that are idle, once; a
 * connection busy then would stay open after its answer until its client let it
 * go, and the close wait for it, ending at close-with-grace's delay with status 1.
 * So while closing, a connection is ended once its last answer under way is done
 * (a response's 'close'). Ended, not destroyed: an answer may still be in the
 * socket's buffer, on its way to a client that reads slowly.
 */
function endBusyConnectionsWhenClosing (app: FastifyInstance): void {
  let closing = false
  const answersUnderWay = new Map<Socket, number>()
  app.server.on('request', ({ socket }: IncomingMessage, response: ServerResponse) => {
    answersUnderWay.set(socket, (answersUnderWay.get(socket) ?? 0) + 1)
    response.once('close', () => {
      const left = (answersUnderWay.get(socket) as number) - 1
      if (left > 0) {
        answersUnderWay.set(socket, left)
        return
      }
      answersUnderWay.delete(socket)
      if (closing) socket.end()
    })
  })
  app.addHook('preClose', async () => { closing = true })
}

// A port taken or not ours to take, a host that names no address of this machine.
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND'])

/** What a failed start prints: the operator's mistakes in one line, anything else (a bug) whole. */
export function startFailure (error: unknown): unknown {
  if (error instanceof ConfigError) return error.message
  const code = (error as NodeJS.ErrnoException).code
  if (code !== undefined && LISTEN_ERRORS.has(code)) return `Cannot listen: ${(error as Error).message}. Check PORT and HOST.`
  return error
}

/** PORT (default 3000) and HOST (default 127.0.0.1), CONTRACT 6; blank is unset, as in CONTRACT 5. */
export function listenAddress (env: NodeJS.ProcessEnv = process.env): { port: number, host: string } {
  // Digits only: Number() would read 0x1F90 as 8080, 1e3 as 1000 and 3.0 as 3.
  const text = variable(env, 'PORT') ?? '3000'
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port > 65535) throw new ConfigError([], [`PORT (not a port number: ${env.PORT})`])
  return { port, host: variable(env, 'HOST') ?? '127.0.0.1' }
}

/** What `node dist/server.js` reads (CONTRACT 5, PORT and HOST), with every problem in one error. */
export function serverSettings (env: NodeJS.ProcessEnv = process.env): Pick<ServerOptions, 'config' | 'port' | 'host'> {
  const missing: string[] = []
  const invalid: string[] = []
  const collect = <T>(read: () => T): T | undefined => {
    try {
      return read()
    } catch (error) {
      /* c8 ignore next: both readers throw ConfigError alone */
      if (!(error instanceof ConfigError)) throw error
      missing.push(...error.missing)
      invalid.push(...error.invalid)
      return undefined
    }
  }
  const config = collect(() => loadConfig(env))
  const address = collect(() => listenAddress(env))
  if (config === undefined || address === undefined) throw new ConfigError(missing, invalid)
  return { config, ...address }
}
