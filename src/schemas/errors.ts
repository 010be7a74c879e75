import { STATUS_CODES } from 'node:http'
import { Type, type Static } from '@sinclair/typebox'
import {
  ALMA_LATE_MESSAGE, ALMA_REFUSING_MESSAGE, ANSWER_TOO_LARGE_MESSAGE, ALMA_UNREACHABLE_MESSAGE, ALMA_UNUSABLE_MESSAGE, INTERNAL_ERROR_MESSAGE, itemNotFoundMessage, KEY_LATE_MESSAGE, KEY_UNREADABLE_MESSAGE, SHUTTING_DOWN_MESSAGE, USER_NOT_FOUND_MESSAGE
} from '../errors.js'
import { invalidIDMessage, MALFORMED_PATH_MESSAGE } from '../resolution/identifiers.js'
import type { Kind } from '../resolution/kinds.js'
import { errorHeaders } from './headers.js'
import { EXAMPLE_ITEM_IDS, EXAMPLE_USER_ID } from './params.js'

// CONTRACT 2.3: every error body, whatever its status.
const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'the HTTP reason phrase' }),
  message: Type.String({ description: 'what went wrong, without internals' })
}, { title: 'Error' })

/** The body of an error answer. */
export const errorBody = (statusCode: number, message: string): Static<typeof ErrorBody> =>
  ({ statusCode, error: String(STATUS_CODES[statusCode]), message })

/** An error answer, for the API description: its body by example, and its headers. */
export const errorResponse = (statusCode: number, message: string, description = message) =>
  Type.Object(ErrorBody.properties, { ...ErrorBody, description, headers: errorHeaders(statusCode), examples: [errorBody(statusCode, message)] })

const MALFORMED_PATH = `${MALFORMED_PATH_MESSAGE} (an ID over 512 characters, or percent-encoding that does not decode)`

/**
 * The error answers a route can give, for the route schemas (docs), with the
 * messages the service writes: of the user routes, or of an item route.
 */
export function errorResponses (item?: { kind: Kind, param: string }) {
  return {
    // An item route checks both of its identifiers; the message names the one refused.
    // A path the router refuses before either is read says both rules (plugins/http-contract.ts).
    400: item === undefined
      ? errorResponse(400, invalidIDMessage('userID'), `${invalidIDMessage('userID')}; or ${MALFORMED_PATH}`)
      : errorResponse(400, invalidIDMessage(item.param), `${invalidIDMessage('userID')}; or ${invalidIDMessage(item.param)}; or ${MALFORMED_PATH}`),
    404: errorResponse(404, item === undefined ? USER_NOT_FOUND_MESSAGE : itemNotFoundMessage(item.kind, EXAMPLE_ITEM_IDS[item.kind], EXAMPLE_USER_ID)),
    500: errorResponse(500, INTERNAL_ERROR_MESSAGE, 'A bug: the answer says nothing about it, the log does'),
    502: errorResponse(502, ALMA_UNUSABLE_MESSAGE, `${ALMA_UNUSABLE_MESSAGE}; or ${ALMA_UNREACHABLE_MESSAGE} (connections refused or reset, a failed name lookup or TLS handshake); or ${KEY_UNREADABLE_MESSAGE} (from SSM); or ${ANSWER_TOO_LARGE_MESSAGE} (deployed: over the 6 MB a Lambda returns)`),
    503: errorResponse(503, ALMA_REFUSING_MESSAGE, `${ALMA_REFUSING_MESSAGE}; or ${SHUTTING_DOWN_MESSAGE} (the local server, asked for Alma while it closes)`),
    504: errorResponse(504, ALMA_LATE_MESSAGE, `${ALMA_LATE_MESSAGE}; or ${KEY_LATE_MESSAGE} (from SSM)`)
  }
}
