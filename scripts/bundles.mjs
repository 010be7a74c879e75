// The esbuild settings of the bundles of CONTRACT 6, shared by npm run build
// (scripts/build.mjs) and npm run bench (which bundles its cold-start baselines
// the same way). Both are CommonJS: Lambda loads a .js handler as CommonJS
// unless a package.json beside it says otherwise, and the deployed package
// holds dist/lambda.js alone.
import { fileURLToPath } from 'node:url'

/** @type {import('esbuild').BuildOptions} */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: true,
  // The packages' ES module builds, where they have one: the bundler can then
  // drop what is not used (the AWS SDK clients' other commands, their paginators).
  // It does so only for what is imported statically: a module loaded with import()
  // comes whole, with everything it imports. So the SSM and SQS clients, though
  // made on first use, are imported statically: parsing all of SSM's 150 commands
  // on every cold start costs more than initialising the one used.
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

// What the Lambda runtime makes dead code, left out of dist/lambda.js, where
// every cold start would parse it (the server may run anywhere and keeps it all).
/** @type {import('esbuild').Plugin} */
const lambdaRuntime = {
  name: 'lambda-runtime',
  setup (build) {
    // Lambda hands each function its role's credentials in the environment
    // (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), where the
    // SDK's default chain looks first; its other providers (SSO, profiles,
    // processes, web identity, container and instance metadata: ~130 KB) never run.
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: 'environment-credentials', namespace: 'lambda-runtime' }))
    build.onLoad({ filter: /^environment-credentials$/, namespace: 'lambda-runtime' }, () => ({
      contents: "export { fromEnv as defaultProvider } from '@aws-sdk/credential-provider-env'",
      resolveDir: fileURLToPath(new URL('..', import.meta.url)),
      loader: 'js'
    }))
    // undici parses HTTP with llhttp compiled to WebAssembly, and carries a second
    // build (70 KB) for engines without WebAssembly SIMD. Lambda's Node 22 has SIMD
    // on x86_64 and arm64; were it ever missing, Alma calls would fail (the first with this message).
    build.onResolve({ filter: /\/llhttp\/llhttp-wasm\.js$/ }, () => ({ path: 'llhttp-without-simd', namespace: 'lambda-runtime' }))
    build.onLoad({ filter: /^llhttp-without-simd$/, namespace: 'lambda-runtime' }, () => ({
      contents: "throw new Error('This bundle carries only the WebAssembly SIMD build of undici\\'s HTTP parser')",
      loader: 'js'
    }))
  }
}

/**
 * dist/lambda.js: the shared settings, less what the Lambda runtime makes dead code.
 * @type {import('esbuild').BuildOptions}
 */
export const lambdaBundleOptions = { ...bundleOptions, plugins: [lambdaRuntime] }
