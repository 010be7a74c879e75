import { ConfigError } from './config.js'
import { serverSettings, startServer } from './server.js'

// `node dist/server.js`: the server, configured by CONTRACT 5 plus PORT and HOST.
// Only ever run as the bundle's entry (test/server.test.ts spawns it), hence no coverage here.
/* c8 ignore start */
async function main (): Promise<void> {
  await startServer(serverSettings())
}

main().catch((error: unknown) => {
  // A configuration error is the operator's to fix: one line, no stack.
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
/* c8 ignore stop */
