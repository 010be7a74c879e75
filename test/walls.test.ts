import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import ts from 'typescript'

// The two walls of the layout: code under src/ never imports from dev/ or test/
// (the simulator and the embedded stack stay out of the Lambda bundle), and the
// rules under src/resolution/ never import Fastify (they read as CONTRACT 3 and
// are tested on their own).

async function sources (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name))
}

// TypeScript's own reader of a file's imports: static, dynamic, type-only and re-exports, however laid out.
const importsOf = (text: string) => ts.preProcessFile(text, true, true).importedFiles.map(({ fileName }) => fileName)

t.test('the import reader finds every form of import', async (t) => {
  const text = "import type {\n  FastifyInstance,\n  FastifyReply\n} from 'fastify'\nexport {\n  a\n} from '../dev/x.js'\n" +
    "import '../test/y.js'\nconst lazy = () => import('undici')\n"
  t.same(importsOf(text), ['fastify', '../dev/x.js', '../test/y.js', 'undici'])
})

t.test('src/ imports nothing from dev/ or test/', async (t) => {
  const files = await sources('src')
  t.ok(files.length > 20)
  for (const file of files) {
    const bad = importsOf(await readFile(file, 'utf8')).filter((specifier) => /(^|\/)(dev|test)\//.test(specifier))
    t.same(bad, [], file)
  }
})

t.test('the resolution rules import no framework, SDK or HTTP client', async (t) => {
  for (const file of await sources('src/resolution')) {
    const imports = importsOf(await readFile(file, 'utf8'))
    t.ok(imports.length > 0 || file.endsWith('identifiers.ts'), `${file} has imports to check`)
    t.same(imports.filter((specifier) => /fastify|@aws-sdk|undici/.test(specifier)), [], file)
  }
})

// What the walls keep out, seen in what was built: each bundle's source map lists
// every file inlined. Only src/ and the packages installed for production (not
// marked dev in package-lock.json: a devDependency reached through no dependency).
t.test('the bundles carry src/ and production packages only: no dev/, test/ or development package', async (t) => {
  const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  for (const bundle of ['dist/lambda.js', 'dist/server.js']) {
    const { sources } = JSON.parse(await readFile(`${bundle}.map`, 'utf8')) as { sources: string[] }
    const packages = new Set(sources.flatMap((source) => /^\.\.\/(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(source)?.[1] ?? []))
    const ownFiles = sources.filter((source) => !source.includes('node_modules/'))
    t.ok(packages.has('node_modules/fastify') && ownFiles.includes('../src/app.ts'), `${bundle}: read from its map`)
    // (A file made by the build itself, in a namespace of scripts/bundles.mjs, has no path.)
    t.same(ownFiles.filter((source) => !source.startsWith('../src/') && !/^[a-z-]+:/.test(source)), [], `${bundle}: its own files all from src/`)
    t.same([...packages].filter((name) => lock.packages[name] === undefined || lock.packages[name].dev === true), [], `${bundle}: no package only development needs`)
  }
})
