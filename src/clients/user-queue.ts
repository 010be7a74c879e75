import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import type { UserQueue } from '../resolution/ports.js'
import { requestCalls } from '../observability/request-calls.js'
import { boundedRequests } from './aws-requests.js'

export interface SqsUserQueueOptions {
  queueUrl: string
  /** set when AWS_ENDPOINT_URL_SQS names an emulator (CONTRACT 5) */
  endpointOverride: boolean
  maxAttempts?: number
  connectionTimeoutMs?: number
  requestTimeoutMs?: number
}

/** The users queue of CONTRACT 3.5, read by the bulk updater. */
export class SqsUserQueue implements UserQueue {
  readonly #client: SQSClient
  readonly #queueUrl: string

  constructor (options: SqsUserQueueOptions) {
    this.#queueUrl = options.queueUrl
    this.#client = new SQSClient({
      // By default the SDK sends to the queue URL's host; emulators name queues with hosts that need not resolve.
      useQueueUrlAsEndpoint: !options.endpointOverride,
      // The send runs alongside the request's own work and is awaited before the
      // answer (CONTRACT 3.5): a hung SQS may delay an answer by this much, no more.
      maxAttempts: options.maxAttempts ?? 2,
      requestHandler: boundedRequests(options.connectionTimeoutMs ?? 500, options.requestTimeoutMs ?? 1500)
    })
  }

  async send (userID: string): Promise<void> {
    // The body is the Alma user ID exactly as the caller wrote it.
    await this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: userID }))
    const calls = requestCalls()
    if (calls !== undefined) calls.queued = true
  }

  destroy (): void {
    this.#client.destroy()
  }
}
