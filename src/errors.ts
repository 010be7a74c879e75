import { KIND_SPECS, type Kind } from './resolution/kinds.js'

// Errors that carry their CONTRACT 2.3 status. Their messages are what the
// caller reads, so they never hold internals; the cause and the detail hold
// those, for the log.

export class ServiceError extends Error {
  /** for the log only: what the caller's message leaves out */
  detail?: string

  constructor (readonly statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A 500's: a bug, which says nothing about itself. */
export const INTERNAL_ERROR_MESSAGE = 'Internal Server Error'

/** The SSM read of the Alma key failed (502), or did not end by the request's deadline (504). */
export const KEY_UNREADABLE_MESSAGE = 'The service could not read its Alma API key'
export const KEY_LATE_MESSAGE = `${KEY_UNREADABLE_MESSAGE} in time`

/** The 404 of a user Alma does not know. */
export const USER_NOT_FOUND_MESSAGE = 'User not found'

/** The 404 of an item route. */
export const itemNotFoundMessage = (kind: Kind, itemID: string, userID: string): string =>
  `No ${KIND_SPECS[kind].singular} ${itemID} for user ${userID}`

export const ALMA_UNUSABLE_MESSAGE = 'Alma answered with an unusable response'
export const ALMA_UNREACHABLE_MESSAGE = 'Alma could not be reached'
export const ALMA_REFUSING_MESSAGE = 'Alma is refusing requests for now; retry later'
export const ALMA_LATE_MESSAGE = 'Alma did not answer in time'
/** The 503 of an Alma call asked for while the local server closes. */
export const SHUTTING_DOWN_MESSAGE = 'The service is shutting down'

/** The 502 of an answer larger than the service's transport carries (a Lambda's response). */
export const ANSWER_TOO_LARGE_MESSAGE = 'The answer is larger than the API can send'

export class NotFoundError extends ServiceError {
  constructor (message: string) {
    super(404, message)
  }
}

/** Alma answered something unusable: an unexpected error, a bad key, a body that is not JSON. */
export class AlmaBadGatewayError extends ServiceError {
  constructor (override readonly detail: string, options?: { cause?: unknown }, message = ALMA_UNUSABLE_MESSAGE) {
    super(502, message, options)
  }
}

/** No exchange with Alma (connections refused or reset, a failed name lookup or TLS handshake): a 502 all the same, but no answer to blame. */
export class AlmaUnreachableError extends AlmaBadGatewayError {
  constructor (options: { cause: unknown }) {
    super('could not reach Alma', options, ALMA_UNREACHABLE_MESSAGE)
  }
}

/** Alma refused our key: ours to fix (alma-api.md), whatever the caller was answered. */
export class AlmaKeyRefusedError extends AlmaBadGatewayError {}

/** A 503, which CONTRACT 2.3 has carry Retry-After. */
export class UnavailableError extends ServiceError {
  constructor (readonly retryAfterSeconds: number, message: string, options?: { cause?: unknown }) {
    super(503, message, options)
  }
}

/** Alma kept answering 429 after the bounded retries, or its refusal of another call still stands. */
export class AlmaThrottledError extends UnavailableError {
  /**
   * `code`: Alma's, PER_SECOND_THRESHOLD or DAILY_THRESHOLD, for the log.
   * `notAsked`: Alma was not asked, as it had refused another call of this process for a threshold that still holds.
   */
  constructor (retryAfterSeconds: number, readonly code: string | undefined, options?: { cause?: unknown, notAsked?: boolean }) {
    super(retryAfterSeconds, ALMA_REFUSING_MESSAGE, { cause: options?.cause })
    this.detail = `${options?.notAsked === true ? 'Alma not asked: it answered another call' : 'Alma answered'} 429 (${code ?? 'no code'}); Retry-After ${retryAfterSeconds} s`
  }
}

/**
 * The Alma key could not be read from SSM (502), or not by the request's
 * deadline (504): Alma cannot be asked, so an expired copy serves as when Alma
 * fails (3.7); ours to fix, as a refused key is.
 */
export class AlmaKeyUnreadableError extends ServiceError {
  constructor (statusCode: 502 | 504, options?: { cause?: unknown }) {
    super(statusCode, statusCode === 502 ? KEY_UNREADABLE_MESSAGE : KEY_LATE_MESSAGE, options)
  }
}

/** Alma did not answer within the time budget. */
export class AlmaTimeoutError extends ServiceError {
  constructor (options?: { cause?: unknown }) {
    super(504, ALMA_LATE_MESSAGE, options)
  }
}

/**
 * An answer over what the transport carries: Lambda refuses a response over
 * 6 MB, and API Gateway then answers an opaque 5xx of its own. A 502, as API
 * Gateway's would be (its upstream's answer was unusable), but saying why; ours
 * to fix, as the answer is complete and Alma did nothing wrong.
 */
export class AnswerTooLargeError extends ServiceError {
  constructor (bytes: number, maxBytes: number) {
    super(502, ANSWER_TOO_LARGE_MESSAGE)
    this.detail = `the answer is ${bytes} bytes as sent; at most ${maxBytes} can be`
  }
}

// The bundles are minified, which renames classes; the logs (the `type` of an
// error) and the `name` above should read as the source does. Object shorthand
// keeps each class's source name as a key whatever the minifier calls it.
for (const [name, errorClass] of Object.entries({ ServiceError, NotFoundError, UnavailableError, AnswerTooLargeError, AlmaBadGatewayError, AlmaKeyRefusedError, AlmaKeyUnreadableError, AlmaUnreachableError, AlmaThrottledError, AlmaTimeoutError })) {
  Object.defineProperty(errorClass, 'name', { value: name })
}

// Alma failing, in CONTRACT 3.7's sense: it answered nothing usable, refused, was late,
// or could not be called at all (its key unreadable). An expired copy may stand in.
const ALMA_FAILURES = [AlmaBadGatewayError, AlmaThrottledError, AlmaTimeoutError, AlmaKeyUnreadableError]

export const isAlmaFailure = (error: unknown): boolean => ALMA_FAILURES.some((failure) => error instanceof failure)

/** Alma's failures that an operator must fix, whatever the caller was answered (a copy may have saved it). */
export const isOursToFix = (error: unknown): boolean => error instanceof AlmaKeyRefusedError || error instanceof AlmaKeyUnreadableError
