// npm run build: the self-contained bundles of CONTRACT 6, dependencies inlined
// (settings in scripts/bundles.mjs).
import { mkdir, writeFile } from 'node:fs/promises'
import { build } from 'esbuild'
import { bundleOptions, lambdaBundleOptions } from './bundles.mjs'

await mkdir('dist', { recursive: true })
// In this repository package.json says "module"; dist/ is CommonJS, as deployed.
await writeFile('dist/package.json', '{ "type": "commonjs" }\n')

const bundles = await Promise.all([
  build({ ...bundleOptions, entryPoints: ['src/start-server.ts'], outfile: 'dist/server.js' }),
  build({ ...lambdaBundleOptions, entryPoints: ['src/lambda.ts'], outfile: 'dist/lambda.js' })
])
for (const { metafile } of bundles) {
  for (const [file, { bytes }] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.js')) console.log(`${file}: ${(bytes / 1024).toFixed(0)} KiB`)
  }
}
