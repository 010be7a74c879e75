import { serverSettings, startFailure, startServer } from './server.js'

// `node dist/server.js`: the server, configured by CONTRACT 5 plus PORT and HOST.
// Only ever run as the bundle's entry (test/server.test.ts spawns it), hence no coverage here.
/* c8 ignore start */
async function main (): Promise<void> {
  await startServer(serverSettings())
}

main().catch((error: unknown) => {
  console.error(startFailure(error))
  process.exit(1)
})
/* c8 ignore stop */
