import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * What one request cost in round trips, counted where the calls are made (the
 * clients) and read when the request is answered (the summary log line, the
 * metrics). Every DynamoDB and Alma round trip is latency a patron waits for;
 * every Alma call also spends the institution's daily quota.
 */
export interface RequestCalls {
  /** DynamoDB HTTP round trips, retries included */
  dynamo: number
  /** Alma HTTP round trips, retries included */
  alma: number
  /** each Alma round trip's duration (ms), in the order they ended */
  almaCallMs: number[]
  /** the user was put on the users queue */
  queued: boolean
  /**
   * the request's debug log (written when LOG_LEVEL lets debug lines through): a
   * line for each round trip, what it asked and how it went, with no identifiers
   */
  debug?: (fields: Record<string, unknown>, message: string) => void
  /**
   * an info line in the request's log, for what a client logs once a process but
   * learns while serving a request (the key read from SSM): in Lambda, with both request IDs
   */
  info?: (fields: Record<string, unknown>, message: string) => void
}

const current = new AsyncLocalStorage<RequestCalls>()

export const newRequestCalls = (): RequestCalls => ({ dynamo: 0, alma: 0, almaCallMs: [], queued: false })

/** Runs `work` (and everything it starts) with `calls` as the request's counters. */
export function countingCalls<T> (calls: RequestCalls, work: () => T): T {
  return current.run(calls, work)
}

/** The counters of the request being served; undefined outside one (start-up, tests of a client alone). */
export const requestCalls = (): RequestCalls | undefined => current.getStore()

/**
 * A round trip's debug line, timed from now: called with how it ended (a status,
 * an error's name), it writes `{ [peer]: { ...asked, ...outcome, ms } }`.
 */
export function roundTripLine (calls: RequestCalls | undefined, peer: string, message: string, asked: Record<string, unknown> = {}): (outcome: Record<string, unknown>) => void {
  const started = performance.now()
  return (outcome) => calls?.debug?.({ [peer]: { ...asked, ...outcome, ms: Math.round(performance.now() - started) } }, message)
}
