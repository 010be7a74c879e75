import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { byDeadline } from '../by-deadline.js'
import { isUsableAlmaKey } from '../config.js'
import { AlmaKeyUnreadableError } from '../errors.js'
import { boundedClient, withinBounds, type CallBounds } from './aws-requests.js'

/** ALMA_API_KEY, used as is; or ALMA_API_KEY_NAME, the SSM parameter holding the key. */
export type AlmaKeySource = { key: string } | { parameterName: string }

/** Which version of the parameter a process read: after a key rotation, the logs tell which containers have the new key. */
export interface AlmaKeyRead {
  parameterName: string
  parameterVersion: number | undefined
}

/**
 * The Alma key, read once per process: from the environment, or from SSM with
 * decryption. A failed SSM read is not remembered, so the next request tries again.
 * A request waits for the read until its deadline at most (a 504); the read
 * goes on, bounded by SSM_BOUNDS, for the requests after it.
 */
export function almaKeyProvider (source: AlmaKeySource, onRead?: (read: AlmaKeyRead) => void): (deadline: number) => Promise<string> {
  if ('key' in source) return () => Promise.resolve(source.key)
  const { parameterName } = source
  let key: string | undefined
  let pending: Promise<string> | undefined
  return (deadline) => {
    // Once read, no race (and no timer) on every Alma call.
    if (key !== undefined) return Promise.resolve(key)
    pending ??= readParameter(parameterName).then(({ value, version }) => {
      onRead?.({ parameterName, parameterVersion: version })
      return (key = value)
    }, (error: unknown) => {
      pending = undefined
      throw new AlmaKeyUnreadableError(502, { cause: error })
    })
    return byDeadline(deadline, pending, () => new AlmaKeyUnreadableError(504))
  }
}

const SSM_BOUNDS: CallBounds = { maxAttempts: 2, connectionTimeout: 1000, requestTimeout: 3000 }

async function readParameter (name: string): Promise<{ value: string, version: number | undefined }> {
  // Made on first use only: a process with ALMA_API_KEY set never makes one.
  // (Imported statically all the same: see scripts/bundles.mjs.)
  const client = new SSMClient(boundedClient(SSM_BOUNDS))
  try {
    const { Parameter } = await withinBounds(SSM_BOUNDS, (options) => client.send(new GetParameterCommand({ Name: name, WithDecryption: true }), options))
    // A key put with its file's newline (`--value file://key.txt`) is the key all the same.
    const value = Parameter?.Value?.trim()
    if (value === undefined || value === '') throw new Error(`SSM parameter ${name} has no value`)
    if (!isUsableAlmaKey(value)) throw new Error(`SSM parameter ${name} holds characters no Alma key has (printable ASCII without blanks)`)
    return { value, version: Parameter?.Version }
  } finally {
    client.destroy()
  }
}
