import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type { Test } from 'tap'

// The very command of `npm run dev`, by this Node. It must be `node` itself: run through
// tsx's own process, a busy server's Ctrl-C came twice (tsx re-sends a signal the child
// has not acknowledged within 30 ms), which the server reads as "exit now".
export const devCommand = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { dev: string } }).scripts.dev.split(' ')

/** `npm run dev` with only these variables (and PATH), killed at the end of the test at the latest. */
export function spawnDev (t: Test, env: Record<string, string>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, devCommand.slice(1), {
    env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env }
  })
  t.teardown(() => { child.kill('SIGKILL') })
  return child
}

/** Once `npm run dev` serves: its base URL, and all it printed by then. */
export async function servingDev (child: ChildProcessWithoutNullStreams): Promise<{ base: string, printed: string }> {
  let printed = ''
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${printed}`)), 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString()
      const match = printed.match(/Alma cache API on (http:\/\/\S+)/)
      if (match?.[1] !== undefined && /Ctrl-C/.test(printed)) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
  return { base, printed }
}
