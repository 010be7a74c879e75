/**
 * What `work` settles with, or the error of `timedOut` once `deadline` (epoch
 * ms) has passed, whichever comes first. The work itself goes on (whoever
 * started it decides what a late outcome means); only this wait ends.
 */
export function byDeadline<T> (deadline: number, work: Promise<T>, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(timedOut()) }, deadline - Date.now())
    work.then(resolve, reject).finally(() => { clearTimeout(timer) })
  })
}
