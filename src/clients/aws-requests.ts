/** How long an AWS SDK client may take: attempts, and each one's connection and request timeouts (ms). */
export interface CallBounds {
  maxAttempts: number
  connectionTimeout: number
  requestTimeout: number
}

/**
 * The bounds of a client of a peer that answers in milliseconds (DynamoDB, SQS):
 * two attempts of 1.5 s after a connection of 0.5 s at most, unless told otherwise.
 */
export const fastPeerBounds = (options: { maxAttempts?: number, connectionTimeoutMs?: number, requestTimeoutMs?: number }): CallBounds =>
  ({ maxAttempts: options.maxAttempts ?? 2, connectionTimeout: options.connectionTimeoutMs ?? 500, requestTimeout: options.requestTimeoutMs ?? 1500 })

/**
 * The client settings. Past its requestTimeout the SDK's HTTP handler only logs
 * a warning and keeps waiting unless told to throw: a hung peer would hold the
 * request until the Lambda timed out.
 */
export const boundedClient = ({ maxAttempts, connectionTimeout, requestTimeout }: CallBounds) =>
  ({ maxAttempts, requestHandler: { connectionTimeout, requestTimeout, throwOnRequestTimeout: true } })

/** The longest a call within `bounds` takes. */
export const boundsMs = (bounds: CallBounds): number => bounds.connectionTimeout + bounds.maxAttempts * bounds.requestTimeout

/**
 * Runs one send with an abort signal that ends it, retries and response body
 * included, once its attempts have had their time. The requestTimeout ends when
 * a response's headers arrive; a peer that then stalls in its body would be cut
 * off only by the socket's idle timeout, which the SDK sets at minutes (DynamoDB
 * 5, SQS and SSM 15). The timer goes as soon as the send is over: left to run
 * (AbortSignal.timeout), thousands pile up under load, and setting the sockets'
 * idle timeout instead cost as much: each a quarter of the mixed load's
 * throughput (npm run load).
 */
export async function withinBounds<T> (bounds: CallBounds, send: (options: { abortSignal: AbortSignal }) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort() }, boundsMs(bounds))
  try {
    return await send({ abortSignal: outer === undefined ? controller.signal : AbortSignal.any([controller.signal, outer]) })
  } finally {
    clearTimeout(timer)
  }
}
