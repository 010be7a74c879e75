import { ServiceError } from '../errors.js'

/** ALMA_API_KEY, used as is; or ALMA_API_KEY_NAME, the SSM parameter holding the key. */
export type AlmaKeySource = { key: string } | { parameterName: string }

/**
 * The Alma key, read once per process: from the environment, or from SSM with
 * decryption. A failed SSM read is not remembered, so the next request tries again.
 */
export function almaKeyProvider (source: AlmaKeySource): () => Promise<string> {
  if ('key' in source) return () => Promise.resolve(source.key)
  const { parameterName } = source
  let pending: Promise<string> | undefined
  return () => {
    pending ??= readParameter(parameterName).catch((error: unknown) => {
      pending = undefined
      throw new ServiceError(502, 'The service could not read its Alma API key', { cause: error })
    })
    return pending
  }
}

async function readParameter (name: string): Promise<string> {
  // Loaded on first use: a process with ALMA_API_KEY set, or a cache hit, never pays for the SSM client.
  const ssm = await import('./ssm-parameter.js')
  return await ssm.readParameter(name)
}
