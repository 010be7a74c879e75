import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { settleAll } from '../src/settle-all.js'

t.test('settleAll rejects with the first failure, only once every promise has settled', async (t) => {
  let slowOneDone = false
  const slow = sleep(30).then(() => { slowOneDone = true; return 'slow' })
  const failure = new Error('first')
  await t.rejects(settleAll([Promise.reject(failure), slow, Promise.reject(new Error('second'))]), failure)
  t.ok(slowOneDone, 'the call still under way was waited for')
  t.same(await settleAll([slow, Promise.resolve('now')]), ['slow', 'now'], 'values in order, as Promise.all')
})
