import awsLambdaFastify, { type LambdaResponse } from '@fastify/aws-lambda'
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda'
import { buildApp, type RouteName } from './app.js'
import { loadConfig } from './config.js'

// The seven Lambda handlers of CONTRACT 6. Each container serves one route: it
// builds the app with that route only, on its first event, and keeps it for
// the warm invocations that follow (the Alma key is read once with it).

type Handler = (event: ProxyEvent, context: Context) => Promise<LambdaResponse>
type ProxyEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2

function handlerFor (route: RouteName): Handler {
  let proxy: Promise<Handler> | undefined
  return async (event, context) => {
    proxy ??= startRoute(route).catch((error: unknown) => {
      // Not remembered: the next event tries again (a misconfiguration stays visible as Lambda errors).
      proxy = undefined
      console.error(error)
      throw error
    })
    return (await proxy)(withEncodedPath(event), context)
  }
}

// HTTP APIs hand the path over decoded, REST APIs keep it encoded. Decoded, a
// `?`, `#` or space inside an ID would read as URL syntax and cut the ID short;
// escaped, it stays part of the ID and fails its validation (400), as on the server.
const NOT_IN_AN_ENCODED_PATH = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g

function withEncodedPath (event: ProxyEvent): ProxyEvent {
  const escape = (path: string) => path.replace(NOT_IN_AN_ENCODED_PATH, encodeURIComponent)
  return 'rawPath' in event ? { ...event, rawPath: escape(event.rawPath) } : { ...event, path: escape(event.path) }
}

async function startRoute (route: RouteName): Promise<Handler> {
  const app = await buildApp({ config: loadConfig(), routes: [route] })
  const proxy = awsLambdaFastify(app)
  await app.ready()
  return proxy
}

export const getUser = handlerFor('getUser')
export const getUserLoans = handlerFor('getUserLoans')
export const getUserLoan = handlerFor('getUserLoan')
export const getUserRequests = handlerFor('getUserRequests')
export const getUserRequest = handlerFor('getUserRequest')
export const getUserFees = handlerFor('getUserFees')
export const getUserFee = handlerFor('getUserFee')
