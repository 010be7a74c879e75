/**
 * Milliseconds from now until `deadline` (epoch ms), as a timer's delay: 0 once it
 * has passed, since Node takes a negative delay as 1 ms and, from 23 on, warns.
 */
export const msUntil = (deadline: number): number => Math.max(0, deadline - Date.now())

/**
 * What `work` settles with, or the error of `timedOut` once `deadline` (epoch
 * ms) has passed, whichever comes first. The work itself goes on (whoever
 * started it decides what a late outcome means); only this wait ends.
 */
export function byDeadline<T> (deadline: number, work: Promise<T>, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(timedOut()) }, msUntil(deadline))
    work.then(resolve, reject).finally(() => { clearTimeout(timer) })
  })
}
