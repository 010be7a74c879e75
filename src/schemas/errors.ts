import { Type } from '@sinclair/typebox'
import { AlmaBadGatewayError, AlmaThrottledError, AlmaTimeoutError, USER_NOT_FOUND_MESSAGE } from '../errors.js'
import { invalidIDMessage } from '../resolution/identifiers.js'
import type { Kind } from '../resolution/kinds.js'
import { itemNotFoundMessage } from '../resolution/resolve.js'
import { EXAMPLE_ITEM_IDS, EXAMPLE_USER_ID } from './params.js'

// CONTRACT 2.3: every error body, whatever its status.
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'the HTTP reason phrase' }),
  message: Type.String({ description: 'what went wrong, without internals' })
}, { title: 'Error' })

const errorResponse = (statusCode: number, error: string, message: string, description = message) =>
  Type.Object(ErrorBody.properties, { ...ErrorBody, description, examples: [{ statusCode, error, message }] })

/**
 * The error answers a route can give, for the route schemas (docs), with the
 * messages the service writes: of the user routes, or of an item route.
 */
export function errorResponses (item?: { kind: Kind, param: string }) {
  return {
    // An item route checks both of its identifiers; the message names the one refused.
    400: item === undefined
      ? errorResponse(400, 'Bad Request', invalidIDMessage('userID'))
      : errorResponse(400, 'Bad Request', invalidIDMessage(item.param), `${invalidIDMessage('userID')}; or ${invalidIDMessage(item.param)}`),
    404: errorResponse(404, 'Not Found', item === undefined ? USER_NOT_FOUND_MESSAGE : itemNotFoundMessage(item.kind, EXAMPLE_ITEM_IDS[item.kind], EXAMPLE_USER_ID)),
    502: errorResponse(502, 'Bad Gateway', new AlmaBadGatewayError('').message),
    503: errorResponse(503, 'Service Unavailable', new AlmaThrottledError(1, undefined).message),
    504: errorResponse(504, 'Gateway Timeout', new AlmaTimeoutError().message)
  }
}
