import type { Test } from 'tap'

/** Math.random held at `value` until the test ends: a retry's jitter at its top (0.999) or its bottom (0). */
export function holdRandomAt (t: Test, value: number): void {
  const random = Math.random
  Math.random = () => value
  t.teardown(() => { Math.random = random })
}
