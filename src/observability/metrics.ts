import type { RequestCalls } from './request-calls.js'

// One CloudWatch Embedded Metric Format record per request: a JSON log line
// that CloudWatch Logs turns into metrics, with no SDK call. Powertools'
// Metrics writes the same lines; measured here, it adds 16 KB to the bundle
// and 12-16 ms to every cold start, which is already over its budget.

export interface AnsweredRequest {
  /** the route pattern, such as /users/:userID/loans; undefined for no route */
  route: string | undefined
  status: number
  /** X-Cache of a 200 */
  cache: string | undefined
  calls: RequestCalls
  durationMs: number
  /** the CloudWatch namespace (METRICS_NAMESPACE) */
  namespace: string
  /** the fields every log line of the request carries (reqId; in Lambda awsRequestId too), which its record carries as well */
  logFields?: Record<string, unknown>
}

const OUTCOMES = { hit: 'CacheHit', partial: 'CachePartial', miss: 'CacheMiss', stale: 'CacheStale' } as const

const METRICS = [
  ...Object.values(OUTCOMES).map((name) => ({ Name: name, Unit: 'Count' })),
  { Name: 'AlmaCalls', Unit: 'Count' },
  { Name: 'DynamoDBCalls', Unit: 'Count' },
  { Name: 'QueueSends', Unit: 'Count' },
  { Name: 'ClientErrors', Unit: 'Count' },
  { Name: 'ServerErrors', Unit: 'Count' },
  { Name: 'Latency', Unit: 'Milliseconds' }
]

// EMF takes at most 100 values for one metric in one record.
const MAX_VALUES = 100

// Each metric also without the route (an empty dimension set, which EMF allows), and
// Errors by status alone: the service as a whole, for alarms. CloudWatch alarms
// cannot use SEARCH, and a metric-math alarm takes 10 metrics at most, under the
// 28 that a hit ratio over the seven routes would need.
const ROUTE_AND_SERVICE: string[][] = [['route'], []]
const ROUTE_STATUS_AND_STATUS: string[][] = [['route', 'status'], ['status']]

/**
 * The EMF record of one answered request, route as the dimension (and none, above). Two metrics
 * only where they have values, since EMF wants a value for every metric declared:
 * AlmaLatency, one value per Alma round trip (so that its percentiles are those
 * of Alma's answers, not of requests that made no call); and Errors, under the
 * route and the status (errors by status, with the contract's few statuses), and the status alone.
 */
export function metricsRecord (answered: AnsweredRequest, timestamp = Date.now()): Record<string, unknown> {
  const { route, status, cache, calls, durationMs, namespace, logFields } = answered
  const outcomes = Object.fromEntries(Object.entries(OUTCOMES).map(([outcome, name]) => [name, cache === outcome ? 1 : 0]))
  const almaLatencies = calls.almaCallMs.slice(0, MAX_VALUES).map(Math.round)
  const failed = status >= 400
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: ROUTE_AND_SERVICE,
          Metrics: [...METRICS, ...(almaLatencies.length > 0 ? [{ Name: 'AlmaLatency', Unit: 'Milliseconds' }] : [])]
        },
        ...(failed ? [{ Namespace: namespace, Dimensions: ROUTE_STATUS_AND_STATUS, Metrics: [{ Name: 'Errors', Unit: 'Count' }] }] : [])
      ]
    },
    // Properties, not metrics (no directive names them); before the record's own members, which win.
    ...logFields,
    route: route ?? 'none',
    ...outcomes,
    AlmaCalls: calls.alma,
    ...(almaLatencies.length > 0 ? { AlmaLatency: almaLatencies } : {}),
    ...(failed ? { Errors: 1 } : {}),
    DynamoDBCalls: calls.dynamo,
    QueueSends: calls.queued ? 1 : 0,
    ClientErrors: status >= 400 && status < 500 ? 1 : 0,
    ServerErrors: status >= 500 ? 1 : 0,
    Latency: Math.round(durationMs),
    // A dimension value, so a string (EMF); for every request, so that CloudWatch Logs Insights can group by it.
    status: String(status)
  }
}
