import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { boundedRequests } from './aws-requests.js'

// Imported statically, by name, so that the bundler keeps GetParameter alone out
// of the SSM client's 150 commands; alma-key.ts loads this module on first use.

/** The decrypted value of an SSM parameter; throws when it is missing or empty. */
export async function readParameter (name: string): Promise<string> {
  const client = new SSMClient({ maxAttempts: 2, requestHandler: boundedRequests(1000, 3000) })
  try {
    const { Parameter } = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }))
    if (typeof Parameter?.Value !== 'string' || Parameter.Value === '') throw new Error(`SSM parameter ${name} has no value`)
    return Parameter.Value
  } finally {
    client.destroy()
  }
}
