import { existsSync } from 'node:fs'
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { apiDocsPage } from '../dev/api-docs.js'
import { seedDemoUsers } from '../dev/demo-users.js'
import { loadConfig } from '../src/config.js'
import { startServer } from '../src/server.js'
import { startTestStack } from './helper.js'

// The API page of `npm run dev` in a real browser: Debian's Chromium, driven by
// playwright-core (which never downloads a browser of its own). It loads /docs,
// opens one operation, runs "Try it out" for a demo user, sees a 200, and keeps
// a screenshot in docs/.

const CHROMIUM = '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium package to run the browser test (.ci/run does)`)
} else {
  process.env.LOG_LEVEL = 'warn'
  const stack = await startTestStack(t)
  await seedDemoUsers(stack)
  const app = await startServer({ config: loadConfig(), plugins: [apiDocsPage], port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  t.test('/docs: an operation tried out against a demo user answers 200', async (t) => {
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
    })
    t.teardown(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
    await page.goto(`${base}/docs`)
    const operation = page.locator('#operations-loans-getUserLoans')
    await operation.locator('.opblock-summary').click()
    await operation.getByRole('button', { name: 'Try it out' }).click()
    await operation.locator('input[placeholder="userID"]').fill('demo-cached')
    await operation.getByRole('button', { name: 'Execute' }).click()
    const status = operation.locator('.live-responses-table tbody .response-col_status').first()
    await status.waitFor({ timeout: 20_000 })
    t.match(await status.innerText(), /^200/, 'Try it out: 200')
    t.match(await operation.locator('.live-responses-table').innerText(), /x-cache: hit/i, 'the X-Cache header shown')
    await page.screenshot({ path: 'docs/api-page.png', fullPage: false })
  })
}
