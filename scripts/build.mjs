// npm run build: the self-contained bundles of CONTRACT 6.
import { build } from 'esbuild'

const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // Some dependencies still call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
}

await build({ ...shared, entryPoints: ['src/server.ts'], outfile: 'dist/server.js' })
