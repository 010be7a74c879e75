import { setTimeout as sleep } from 'node:timers/promises'
import { AlmaThrottledError, UnavailableError, type ServiceError } from '../errors.js'

// Alma's thresholds (alma-api.md) are the whole institution's: once Alma refuses
// one call, the others a process sends meanwhile would be refused too, and spend
// quota for nothing. After a per-second refusal, a burst of users would fail as a
// herd, every call's retries meeting the others'; after a daily one, every miss
// would wait for a refusal before it could be answered from an expired copy.

/** Alma's error codes for its two thresholds. */
export const PER_SECOND_THRESHOLD = 'PER_SECOND_THRESHOLD'
export const DAILY_THRESHOLD = 'DAILY_THRESHOLD'

/** The window Alma's per-second threshold counts: what a 429 without Retry-After waits out. */
export const THRESHOLD_WINDOW_MS = 1000

// After a DAILY_THRESHOLD, how long the process makes no call: not the rest of Alma's day,
// which may end sooner than Alma said, or the library's quota be raised; after it, the calls
// made then find out (those of one request, in a Lambda container: it serves one at a time).
const DAILY_THRESHOLD_PAUSE_MS = 60_000

/** The pause of a process's Alma calls after Alma refused one of them over a threshold. */
export class ThresholdPause {
  /** no call is made before this time */
  #until = 0
  /** the code of the refusal that set the pause */
  #code: string | undefined
  /** when that refusal told callers to come back (for a daily one, often past #until) */
  #comeBackAt = 0

  /**
   * After a refusal over one of Alma's thresholds, no call until the time Alma gave
   * (`retryAfterMs`): a second at most for the per-second one (the window it counts;
   * a longer Retry-After is the refused call's to wait), a minute at most for the
   * daily one. A pause already longer stands.
   */
  after (refusal: AlmaThrottledError, retryAfterMs = refusal.retryAfterSeconds * 1000): void {
    const daily = refusal.code === DAILY_THRESHOLD
    const now = Date.now()
    const until = now + Math.min(retryAfterMs, daily ? DAILY_THRESHOLD_PAUSE_MS : THRESHOLD_WINDOW_MS)
    if (until <= this.#until) return
    this.#until = until
    this.#code = refusal.code
    this.#comeBackAt = daily ? now + retryAfterMs : until
  }

  /**
   * Waits out the pause, a second at most. A call that could not be made `by` then
   * is not made: a refusal stands (see #refusal; `retried`: the refusal a retry is for). Nor is one meeting a longer pause
   * (a daily threshold's): held until it ends, its expired copy would be served
   * late, and every call so held sent to Alma together. A list's page no longer
   * wanted stops waiting (turned away, as in its turn).
   */
  async waitOut (by: number, retried: ServiceError | undefined, unwanted: AbortSignal | undefined): Promise<void> {
    // Again after each wait: a call already in flight may have been refused meanwhile (a daily threshold's, say).
    for (let waitMs = this.#until - Date.now(); waitMs > 0; waitMs = this.#until - Date.now()) {
      if (waitMs > THRESHOLD_WINDOW_MS || Date.now() + waitMs >= by) throw this.#refusal(retried)
      await sleep(waitMs, undefined, { signal: unwanted })
    }
  }

  /**
   * The answer of a call not made for the pause: the refusal that set it, unless the
   * call is a retry of a refusal that tells callers to come back no sooner (its
   * Retry-After may be the longer). A retried 5xx says nothing of when to come back:
   * the pause's refusal does.
   */
  #refusal (retried: ServiceError | undefined): ServiceError {
    const paused = new AlmaThrottledError(Math.max(1, Math.ceil((this.#comeBackAt - Date.now()) / 1000)), this.#code, { notAsked: true })
    return retried instanceof UnavailableError && retried.retryAfterSeconds >= paused.retryAfterSeconds ? retried : paused
  }
}
