import { createHash } from 'node:crypto'
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { userCacheKey } from '../resolution/identifiers.js'
import type { UserQueue } from '../resolution/ports.js'
import { requestCalls, roundTripLine } from '../observability/request-calls.js'
import { boundedClient, fastPeerBounds, withinBounds, type CallBounds } from './aws-requests.js'

export interface SqsUserQueueOptions {
  queueUrl: string
  /** set when AWS_ENDPOINT_URL_SQS is: messages go there, whatever host the queue URL names (CONTRACT 5) */
  endpointOverride: boolean
}

/**
 * The region an SQS queue URL names: sqs.<region>.amazonaws.com (FIPS, dual-stack,
 * China and VPC endpoint forms too), the older <region>.queue.amazonaws.com, and
 * the oldest queue.amazonaws.com, which is us-east-1. None for other hosts (emulators).
 */
export function queueRegion (queueUrl: string): string | undefined {
  const host = /^https?:\/\/([^/:]+)/i.exec(queueUrl)?.[1]?.toLowerCase() ?? ''
  if (host === 'queue.amazonaws.com') return 'us-east-1'
  return /^(?:vpce-[a-z0-9-]+\.)?sqs(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?(?:amazonaws\.com(?:\.cn)?|api\.aws)$/.exec(host)?.[1] ??
    /^([a-z]{2}(?:-[a-z]+)+-\d+)\.queue\.amazonaws\.com(?:\.cn)?$/.exec(host)?.[1]
}

/** The users queue of CONTRACT 3.5, read by the bulk updater. */
export class SqsUserQueue implements UserQueue {
  readonly #options: SqsUserQueueOptions
  readonly #bounds: CallBounds
  #client: SQSClient | undefined

  constructor (options: SqsUserQueueOptions) {
    this.#options = options
    // One attempt: a send that timed out may still have been delivered, and a
    // second would queue the user twice (CONTRACT 3.5: at most once a request).
    // The next request for the user queues it if this one failed.
    this.#bounds = fastPeerBounds({ maxAttempts: 1 })
  }

  async send (userID: string): Promise<void> {
    const client = this.#client ??= this.#makeClient()
    // The body is the Alma user ID exactly as the caller wrote it.
    const message = { QueueUrl: this.#options.queueUrl, MessageBody: userID, ...this.#fifoFields(userID) }
    const calls = requestCalls()
    const line = roundTripLine(calls, 'sqs', 'SQS send')
    try {
      await withinBounds(this.#bounds, (options) => client.send(new SendMessageCommand(message), options))
    } catch (error) {
      line({ error: (error as Error).name })
      throw error
    }
    line({ sent: true })
    if (calls !== undefined) calls.queued = true
  }

  /**
   * A FIFO queue refuses a message without a group, and without a deduplication ID
   * unless it deduplicates by content. One group per user, so that the updater may
   * refresh users in parallel; deduplicated by the body, so that a user asked for
   * again within SQS's five minutes is refreshed once. Hashed: both IDs stop at 128
   * characters, a user ID at 255.
   */
  #fifoFields (userID: string): { MessageGroupId?: string, MessageDeduplicationId?: string } {
    if (!this.#options.queueUrl.endsWith('.fifo')) return {}
    const hash = (text: string) => createHash('sha256').update(text).digest('hex')
    return { MessageGroupId: hash(userCacheKey(userID)), MessageDeduplicationId: hash(userID) }
  }

  destroy (): void {
    this.#client?.destroy()
  }

  /**
   * The SQS client is made on the first send: a container whose requests all
   * find the user's record valid never queues, and never resolves its settings.
   * (Imported statically all the same: see scripts/bundles.mjs.)
   */
  #makeClient (): SQSClient {
    const region = queueRegion(this.#options.queueUrl)
    return new SQSClient({
      // Signed for the queue's own region: the SDK would sign for AWS_REGION, and SQS refuses that for a queue elsewhere.
      ...(region === undefined ? {} : { region }),
      // By default the SDK sends to the queue URL's host; emulators name queues with hosts that need not resolve.
      useQueueUrlAsEndpoint: !this.#options.endpointOverride,
      // The send runs alongside the request's own work and is awaited before the
      // answer (CONTRACT 3.5): a hung SQS may delay an answer by this much, no more.
      ...boundedClient(this.#bounds)
    })
  }
}
