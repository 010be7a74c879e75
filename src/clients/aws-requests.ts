/**
 * Request-handler options for the AWS SDK clients. Past its requestTimeout the
 * SDK's HTTP handler only logs a warning and keeps waiting unless told to throw:
 * a hung peer would hold the request until the Lambda timed out.
 */
export const boundedRequests = (connectionTimeout: number, requestTimeout: number) =>
  ({ connectionTimeout, requestTimeout, throwOnRequestTimeout: true })
