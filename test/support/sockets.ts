import type { Socket } from 'node:net'

/** Whether `socket` closes within `ms` (false once they are over). */
export const closesWithin = (socket: Socket, ms: number): Promise<boolean> => new Promise((resolve) => {
  socket.once('close', () => { resolve(true) })
  setTimeout(() => { resolve(false) }, ms).unref()
})
