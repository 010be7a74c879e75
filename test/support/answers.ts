// What a caller sees of an answer, for comparing the HTTP server with a Lambda:
// the status, the headers of CONTRACT 2.3, and the body.

export interface Answer {
  statusCode: number
  headers: Record<string, string | undefined>
  body: unknown
}

// (and nosniff, which every answer carries beside no-store)
const CONTRACT_HEADERS = ['content-type', 'cache-control', 'x-content-type-options', 'x-cache', 'retry-after'] as const

export function answerOf (response: { statusCode: number, headers: Record<string, unknown>, body?: string, payload?: string }): Answer {
  const lowered = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name.toLowerCase(), value]))
  const headers: Record<string, string | undefined> = {}
  for (const name of CONTRACT_HEADERS) {
    const value = lowered[name]
    headers[name] = value === undefined ? undefined : String(value)
  }
  const text = response.body ?? response.payload ?? ''
  return { statusCode: response.statusCode, headers, body: text === '' ? '' : JSON.parse(text) }
}
