// npm run build: the self-contained bundles of CONTRACT 6, dependencies inlined.
// Both are CommonJS: Lambda loads a .js handler as CommonJS unless a package.json
// beside it says otherwise, and the deployed package holds dist/lambda.js alone.
import { mkdir, writeFile } from 'node:fs/promises'
import { build } from 'esbuild'

const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: true,
  // The packages' ES module builds, where they have one: the bundler can then
  // drop what is not used (the AWS SDK clients' other commands, their paginators).
  mainFields: ['module', 'main'],
  // Fastify's default schema compilers (Ajv, fast-json-stringify), loaded only
  // when an app brings none: this one brings its own (src/schemas/compilers.ts).
  // Left out, a bundle that ever needed them would fail at start-up, which the
  // bundle tests would see.
  external: ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true
}

await mkdir('dist', { recursive: true })
// In this repository package.json says "module"; dist/ is CommonJS, as deployed.
await writeFile('dist/package.json', '{ "type": "commonjs" }\n')

const bundles = await Promise.all([
  build({ ...shared, entryPoints: ['src/start-server.ts'], outfile: 'dist/server.js' }),
  build({ ...shared, entryPoints: ['src/lambda.ts'], outfile: 'dist/lambda.js' })
])
for (const { metafile } of bundles) {
  for (const [file, { bytes }] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.js')) console.log(`${file}: ${(bytes / 1024).toFixed(0)} KiB`)
  }
}
