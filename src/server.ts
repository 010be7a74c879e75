import closeWithGrace from 'close-with-grace'
import { buildApp, type AppOptions } from './app.js'
import { ConfigError, loadConfig, variable, type Config } from './config.js'

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
  /* c8 ignore next 5: runs on a signal, in the spawned server of test/server.test.ts */
  const graceful = closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'server closing after an error')
    else app.log.info({ signal }, 'server closing')
    await app.close()
  })
  app.addHook('onClose', async () => {
    graceful.uninstall()
    await onClose?.()
  })
  // Closing, the server ends the keep-alive connections that are idle, once; a
  // connection busy then would stay open after its answer until its client let it
  // go, and the close wait for it, ending at close-with-grace's delay with status 1.
  // So while closing, each answer sent ends the connections it leaves idle (one
  // with a request still to answer behind it is not idle).
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections()
  })
  try {
    await app.listen({ port, host })
  } catch (error) {
    // Nothing may stay open (the embedded stack of npm run dev, the signal handlers) once the start has failed.
    await app.close()
    throw error
  }
  return app
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
  const port = Number(variable(env, 'PORT') ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([], [`PORT (not a port number: ${env.PORT})`])
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
