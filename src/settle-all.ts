/**
 * Promise.all that waits for every promise before it rejects (with the failure
 * of the earliest promise in the array that failed): a request must not answer while some of its calls are still under
 * way, to be frozen mid-flight with its Lambda or to outlive their request.
 */
export async function settleAll<T> (promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises)
  const failed = results.find((result) => result.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return results.map((result) => (result as PromiseFulfilledResult<T>).value)
}
