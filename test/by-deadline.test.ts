import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { byDeadline } from '../src/by-deadline.js'

const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
const late = () => new Error('too late')

t.test('the work\'s outcome when it comes first, and no timer left behind', async (t) => {
  const before = timers()
  t.equal(await byDeadline(Date.now() + 60_000, Promise.resolve('value'), late), 'value')
  const failure = new Error('failed')
  await t.rejects(byDeadline(Date.now() + 60_000, Promise.reject(failure), late), failure)
  // A timer left to run for the whole budget, for every Alma call and key read, piles up under load.
  t.equal(timers(), before, 'the deadline timers are gone')
})

t.test('the deadline\'s error when it comes first; the work goes on', async (t) => {
  let workDone = false
  const work = sleep(200).then(() => { workDone = true })
  await t.rejects(byDeadline(Date.now() + 20, work, late), /too late/)
  t.notOk(workDone)
  await work
  t.ok(workDone, 'not stopped')
  await t.rejects(byDeadline(Date.now() - 1, sleep(50), late), /too late/, 'a deadline already past')
})
