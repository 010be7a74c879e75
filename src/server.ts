import closeWithGrace from 'close-with-grace'
import { buildApp, type AppOptions } from './app.js'
import { ConfigError, type Config } from './config.js'

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
  await app.listen({ port, host })
  return app
}

/** PORT (default 3000) and HOST (default 127.0.0.1), CONTRACT 6; blank is unset, as in CONTRACT 5. */
export function listenAddress (env: NodeJS.ProcessEnv = process.env): { port: number, host: string } {
  const given = (name: string) => env[name]?.trim() || undefined
  const port = Number(given('PORT') ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([`PORT (not a port number: ${env.PORT})`])
  return { port, host: given('HOST') ?? '127.0.0.1' }
}
