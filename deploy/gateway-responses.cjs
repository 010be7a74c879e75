'use strict'
// What API Gateway answers itself (its gateway responses), held to CONTRACT 2.3
// like the app's own answers: the contract's error shape, with a status that
// agrees with it, never cacheable. Used by stage-settings.cjs for serverless.yml.
const { STATUS_CODES } = require('node:http')

// Every response type API Gateway defines, with its status. An unknown path or
// method (MISSING_AUTHENTICATION_TOKEN, 403 of API Gateway's choosing) is the
// contract's 404. Lambda refusing an invocation (its concurrency limit) is an
// INTEGRATION_FAILURE: 503, to be retried, not the 504 of an Alma that did not
// answer. The two defaults answer for what no type names; a function that crashed
// or timed out lands in DEFAULT_5XX, as 500: a bug.
const STATUS_OF_TYPE = {
  ACCESS_DENIED: 403,
  API_CONFIGURATION_ERROR: 500,
  AUTHORIZER_CONFIGURATION_ERROR: 500,
  AUTHORIZER_FAILURE: 500,
  BAD_REQUEST_BODY: 400,
  BAD_REQUEST_PARAMETERS: 400,
  EXPIRED_TOKEN: 403,
  INTEGRATION_FAILURE: 503,
  INTEGRATION_TIMEOUT: 504,
  INVALID_API_KEY: 403,
  INVALID_SIGNATURE: 403,
  MISSING_AUTHENTICATION_TOKEN: 404,
  QUOTA_EXCEEDED: 429,
  REQUEST_TOO_LARGE: 413,
  RESOURCE_NOT_FOUND: 404,
  THROTTLED: 429,
  UNAUTHORIZED: 401,
  UNSUPPORTED_MEDIA_TYPE: 415,
  WAF_FILTERED: 403,
  DEFAULT_4XX: 400,
  DEFAULT_5XX: 500
}

// API Gateway's own message ($context.error.messageString, a JSON string) where it
// says enough; these say more.
const MESSAGE_OF_TYPE = {
  MISSING_AUTHENTICATION_TOKEN: 'No route for this method and path',
  INVALID_API_KEY: 'A valid API key is required, in the x-api-key header',
  THROTTLED: 'Too many requests for this API key or the API; retry after a second'
}

/**
 * API Gateway's answer of a type whose message is ours (the API description shows them too).
 * @param {keyof typeof MESSAGE_OF_TYPE} type
 */
function gatewayAnswer (type) {
  const statusCode = STATUS_OF_TYPE[type]
  return { statusCode, error: String(STATUS_CODES[statusCode]), message: MESSAGE_OF_TYPE[type] }
}

// API Gateway's throttling refills every second; Lambda's concurrency frees up as
// invocations end. (CONTRACT 2.3: a 503 carries Retry-After.)
const EXTRA_HEADERS_OF_TYPE = {
  THROTTLED: { 'gatewayresponse.header.Retry-After': "'1'" },
  INTEGRATION_FAILURE: { 'gatewayresponse.header.Retry-After': "'1'" }
}

/**
 * The AWS::ApiGateway::GatewayResponse resources, by logical ID.
 * @param {Record<string, string>} headers the response parameters all of them carry
 */
function gatewayResponses (headers) {
  return Object.fromEntries(Object.entries(STATUS_OF_TYPE).map(([type, statusCode]) => {
    const logicalId = `GatewayResponse${type.toLowerCase().replace(/(?:^|_)([a-z0-9])/g, (_, letter) => letter.toUpperCase())}`
    return [logicalId, {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        RestApiId: { Ref: 'ApiGatewayRestApi' },
        ResponseType: type,
        StatusCode: String(statusCode),
        ResponseParameters: { ...headers, ...EXTRA_HEADERS_OF_TYPE[type] },
        ResponseTemplates: {
          // $context.error.messageString is a JSON string already, quotes included.
          'application/json': type in MESSAGE_OF_TYPE
            ? JSON.stringify(gatewayAnswer(/** @type {keyof typeof MESSAGE_OF_TYPE} */ (type)))
            : `{"statusCode":${statusCode},"error":${JSON.stringify(STATUS_CODES[statusCode])},"message":$context.error.messageString}`
        }
      }
    }]
  }))
}

module.exports = { gatewayResponses, gatewayAnswer }
