import { Type } from '@sinclair/typebox'

// CONTRACT 2.3: every error body, whatever its status.
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'the HTTP reason phrase' }),
  message: Type.String({ description: 'what went wrong, without internals' })
}, { title: 'Error' })

const errorResponse = (statusCode: number, error: string, message: string) =>
  Type.Object(ErrorBody.properties, { ...ErrorBody, description: message, examples: [{ statusCode, error, message }] })

// The error answers every endpoint can give, for the route schemas (docs).
export const errorResponses = {
  400: errorResponse(400, 'Bad Request', 'userID must be 1 to 255 letters, digits and . _ - @ +'),
  404: errorResponse(404, 'Not Found', 'User not found'),
  502: errorResponse(502, 'Bad Gateway', 'Alma answered with an unusable response'),
  503: errorResponse(503, 'Service Unavailable', 'Alma is refusing requests; retry later'),
  504: errorResponse(504, 'Gateway Timeout', 'Alma did not answer in time')
}
