// Loads a Lambda bundle the way the Lambda Node.js runtime does (CommonJS, from
// a directory holding nothing else) and invokes its handlers with the events
// read as JSON from stdin: [{ handler, event }]. Writes the responses as JSON,
// on the last line of its output.
// Usage: node invoke-bundle.cjs <directory holding lambda.js>
const { randomUUID } = require('node:crypto')
const path = require('node:path')

// performance.now() counts from the process's start.
const userCodeAtMs = performance.now()

async function main () {
  // The events first; the wait for them is not part of the cold start.
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const stdinWaitMs = performance.now() - userCodeAtMs
  const bundle = require(path.resolve(process.argv[2], 'lambda.js'))
  // What a Lambda's REPORT line counts as its Init Duration: the bundle loaded, no event yet.
  const loadedAtMs = performance.now() - stdinWaitMs
  const results = []
  for (const { handler, event } of JSON.parse(input)) {
    const context = {
      functionName: handler,
      awsRequestId: randomUUID(),
      invokedFunctionArn: `arn:aws:lambda:eu-west-2:123456789012:function:${handler}`,
      getRemainingTimeInMillis: () => 25_000
    }
    try {
      results.push({ response: await bundle[handler](event, context), atMs: performance.now() - stdinWaitMs })
    } catch (error) {
      results.push({ error: String(error && error.message) })
    }
  }
  // atMs: from the process's start to each answer, less the wait for stdin; the first is the cold start.
  // The handlers write their own lines (logs, metrics) to stdout: the results are the last line.
  process.stdout.write('\n' + JSON.stringify({ node: process.version, loadedAtMs, results }) + '\n')
}

// The handlers' connection pools would keep the process alive: exit once the output is out.
main().then(() => process.stdout.write('', () => process.exit(0)), (error) => {
  console.error(error)
  process.exit(1)
})
