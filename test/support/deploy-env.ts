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

// The deploy settings alone, as serverless resolves them, for the checks that need no package
// (in a process of their own, as serverless runs them; deploy/ is not the service's code, whose coverage is measured).
export interface StageSettings { functionTimeout: number, endpointType: string, gatewayResponses: Record<string, { Properties: { ResponseParameters: Record<string, string> } }>, statements: unknown[], environment: Record<string, string>, cors: false | { headers: string[] }, warnings: string }
export async function settingsWith (env: Record<string, string>, options: { stage: string, region?: string } = { stage: 'stg', region: 'eu-west-2' }): Promise<StageSettings> {
  const resolve = `require('./deploy/stage-settings.cjs')({ options: ${JSON.stringify(options)} })` +
    '.then((settings) => console.log(JSON.stringify(settings)), (error) => { console.error(error.message); process.exitCode = 1 })'
  const child = spawn(process.execPath, ['-e', resolve], { env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env } })
  let output = ''
  let errors = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  if (code !== 0) throw new Error(errors.trim())
  return { ...JSON.parse(output) as StageSettings, warnings: errors }
}

// China's partition: its ARNs and its queue host.
export const CHINA = {
  ...STG,
  USER_QUEUE_URL_STG: 'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/alma-users-stg',
  USER_QUEUE_ARN_STG: 'arn:aws-cn:sqs:cn-north-1:123456789012:alma-users-stg',
  ALMA_API_KEY_NAME: 'arn:aws-cn:ssm:cn-north-1:123456789012:parameter/alma/api-key'
}
