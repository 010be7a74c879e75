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

export function readPort (text: string | undefined): number {
  const port = Number(text ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([`PORT (not a port number: ${text})`])
  return port
}
