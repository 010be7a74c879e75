import { stdSerializers } from 'pino'

/**
 * Pino's error serializer, typed by the error's name: in the minified bundles
 * a constructor's own name is the minifier's, while the AWS SDK, undici and
 * src/errors.ts set `name` to what the error is.
 */
export function loggedError (error: Error): ReturnType<typeof stdSerializers.err> {
  const serialized = stdSerializers.err(withoutUnreadAnswers(error) as Error)
  // Pino hands back what is not an error (a string, null) as it is; only errors are typed by name.
  return error instanceof Error ? { ...serialized, type: error.name } : serialized
}

/**
 * An AWS SDK error made from an answer it could not read (a proxy's page, say, where
 * DynamoDB's, SQS's or SSM's JSON was due): its message quotes that body, which may
 * say anything, the caller's IDs included. It is logged by its name and $metadata
 * (status, request ID, attempts) only. The services' own errors keep their words
 * (AccessDenied's name the action and the resource), which carry no caller's data.
 */
const isUnreadAnswer = (error: Error): boolean => '$response' in error

/** `error` as logged: the same, unless it or a cause is an unread answer, which is then cut down (isUnreadAnswer). */
function withoutUnreadAnswers (error: unknown, seen = new Set<unknown>()): unknown {
  // (A cause chain that loops is pino's to stop: it is left as it is from where it loops.)
  if (!(error instanceof Error) || seen.has(error)) return error
  seen.add(error)
  if (isUnreadAnswer(error)) {
    const { $fault, $metadata } = error as { $fault?: unknown, $metadata?: { httpStatusCode?: unknown } }
    const message = `answered with status ${String($metadata?.httpStatusCode ?? 'unknown')}`
    // The stack's first lines are `name: message`, the message as it read then; its frames are ours and the SDK's.
    const frames = String(error.stack).split('\n').filter((line) => /^\s+at /.test(line))
    return { name: error.name, message, stack: [`${error.name}: ${message}`, ...frames].join('\n'), $fault, $metadata }
  }
  const cause = withoutUnreadAnswers(error.cause, seen)
  if (cause === error.cause) return error
  // A copy with the cut-down cause, keeping the error's own fields (its type is still its name: loggedError).
  return Object.assign(Object.create(Object.getPrototypeOf(error) as object) as Error, error, { name: error.name, message: error.message, stack: error.stack, cause })
}
