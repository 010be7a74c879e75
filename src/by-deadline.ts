/**
 * What `work` settles with, or the error of `timedOut` once `deadline` (epoch
 * ms) has passed, whichever comes first. The work itself goes on (whoever
 * started it decides what a late outcome means); only this wait ends.
 */
export function byDeadline<T> (deadline: number, work: Promise<T>, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // A deadline already past is a zero delay: Node takes a negative one as 1 ms and, from 23 on, warns.
    const timer = setTimeout(() => { reject(timedOut()) }, Math.max(0, deadline - Date.now()))
    work.then(resolve, reject).finally(() => { clearTimeout(timer) })
  })
}
