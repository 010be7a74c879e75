import { spawn } from 'node:child_process'
import { once } from 'node:events'

// The deploy-time variables of CONTRACT 5 for stg and prod, with placeholder values, and
// the settings deploy/stage-settings.cjs makes of them.

export const STG = {
  USER_QUEUE_URL_STG: 'https://sqs.eu-west-2.amazonaws.com/123456789012/alma-users-stg',
  USER_QUEUE_ARN_STG: 'arn:aws:sqs:eu-west-2:123456789012:alma-users-stg',
  USER_CACHE_TABLE_NAME_STG: 'alma-users-stg',
  LOAN_CACHE_TABLE_NAME_STG: 'alma-loans-stg',
  REQUEST_CACHE_TABLE_NAME_STG: 'alma-requests-stg',
  FEE_CACHE_TABLE_NAME_STG: 'alma-fees-stg',
  ALMA_API_KEY_NAME: '/alma/api-key'
}
export const PROD = Object.fromEntries(Object.entries(STG).map(([name, value]) => [name.replace(/_STG$/, '_PROD'), value.replace(/-stg$/, '-prod')]))

// The deploy settings alone, as serverless resolves them, for the checks that need no package:
// in a process of their own, as serverless runs them (deploy/ is not the service's code, whose
// coverage is measured), one process for many cases, each with its own environment.
export interface StageSettings { functionTimeout: number, endpointType: string, gatewayResponses: Record<string, { Properties: { ResponseParameters: Record<string, string> } }>, statements: unknown[], environment: Record<string, string>, cors: false | { headers: string[] }, warnings: string }
export interface SettingsCase { env: Record<string, string>, options?: { stage: string, region?: string } }

const RESOLVE_CASES = `
const resolve = require('./deploy/stage-settings.cjs')
const path = process.env.PATH
;(async () => {
  const results = []
  for (const { env, options } of JSON.parse(process.argv[1])) {
    process.env = { PATH: path, ...env }
    let warnings = ''
    const write = process.stderr.write
    process.stderr.write = (chunk) => { warnings += chunk; return true }
    try {
      results.push({ settings: { ...await resolve({ options }), warnings } })
    } catch (error) {
      results.push({ error: error.message })
    } finally {
      process.stderr.write = write
    }
  }
  console.log(JSON.stringify(results))
})()
`

/** Each case's settings, or the error that refused them; `checkout`: another copy of the repository's deploy/. */
export async function settingsOf (cases: SettingsCase[], checkout = process.cwd()): Promise<Array<StageSettings | Error>> {
  const all = cases.map(({ env, options }) => ({ env, options: options ?? { stage: 'stg', region: 'eu-west-2' } }))
  const child = spawn(process.execPath, ['-e', RESOLVE_CASES, JSON.stringify(all)], { cwd: checkout, env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
  let output = ''
  let errors = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  if (code !== 0) throw new Error(errors.trim())
  return (JSON.parse(output) as Array<{ settings?: StageSettings, error?: string }>)
    .map((result) => result.settings ?? new Error(result.error))
}

export async function settingsWith (env: Record<string, string>, options?: { stage: string, region?: string }): Promise<StageSettings> {
  const [result] = await settingsOf([{ env, options }])
  if (result instanceof Error) throw result
  return result as StageSettings
}

// China's partition: its ARNs and its queue host.
export const CHINA = {
  ...STG,
  USER_QUEUE_URL_STG: 'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/alma-users-stg',
  USER_QUEUE_ARN_STG: 'arn:aws-cn:sqs:cn-north-1:123456789012:alma-users-stg',
  ALMA_API_KEY_NAME: 'arn:aws-cn:ssm:cn-north-1:123456789012:parameter/alma/api-key'
}
