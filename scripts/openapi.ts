// npm run openapi: writes docs/openapi.json from the route schemas.
import { mkdir, writeFile } from 'node:fs/promises'
import { openApiJson } from '../dev/openapi-document.js'

await mkdir('docs', { recursive: true })
await writeFile('docs/openapi.json', await openApiJson())
console.log('docs/openapi.json written')
