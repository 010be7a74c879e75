import { build } from 'esbuild'
import { lambdaBundleOptions } from '/work/main/scripts/bundles.mjs'
const r = await build({ ...lambdaBundleOptions, entryPoints: ['src/lambda.ts'], outfile: '/tmp/metaout/lambda.js' })
const out = Object.values(r.metafile.outputs).find(o => o.entryPoint)
const byPkg = {}
for (const [file, { bytesInOutput }] of Object.entries(out.inputs)) {
  const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  const k = m ? m[1] : file.split('/').slice(0,2).join('/')
  byPkg[k] = (byPkg[k] ?? 0) + bytesInOutput
}
const tot = Object.values(byPkg).reduce((a,b)=>a+b,0)
console.log('total', tot)
for (const [k, v] of Object.entries(byPkg).sort((a,b)=>b[1]-a[1]).slice(0,60)) console.log((v/1024).toFixed(1).padStart(7), k)
const pkg = process.argv[2]
if (pkg) for (const [file, { bytesInOutput }] of Object.entries(out.inputs).filter(([f]) => f.includes(pkg)).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput).slice(0,40)) console.log(bytesInOutput, file)
