/**
 * Request-handler options for the AWS SDK clients. Past its requestTimeout the
 * SDK's HTTP handler only logs a warning and keeps waiting unless told to throw:
 * a hung peer would hold the request until the Lambda timed out. And the
 * requestTimeout ends when the response's headers arrive: a peer that stalls
 * in its body is cut off only by the socket's idle timeout, which the SDK
 * otherwise sets at minutes (DynamoDB 5, SQS and SSM 15).
 */
export const boundedRequests = (connectionTimeout: number, requestTimeout: number) =>
  ({ connectionTimeout, requestTimeout, throwOnRequestTimeout: true, socketTimeout: requestTimeout })
