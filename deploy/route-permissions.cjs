'use strict'
// A serverless plugin. The framework lets API Gateway invoke every function from
// any method and path of the API (`<api>/*/*`); a function here serves one route,
// so API Gateway may invoke it with that method on that path only
// (`<api>/*/GET/users/*/loans`, a path parameter matching as `*`, as AWS's
// execute-api ARNs have it; such a `*` spans a `/` too, so `GET/users/*`
// takes in the deeper paths, which are other functions' routes).
class RoutePermissions {
  constructor (serverless) {
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => {
        const { service } = serverless
        const naming = serverless.getProvider('aws').naming
        const resources = service.provider.compiledCloudFormationTemplate.Resources
        for (const name of service.getAllFunctions()) {
          const routes = service.getFunction(name).events.flatMap((event) => event.http === undefined ? [] : [event.http])
          const permission = resources[naming.getLambdaApiGatewayPermissionLogicalId(name)]
          // One permission serves all of a function's routes: only a function of one route is narrowed.
          if (routes.length !== 1 || permission === undefined) continue
          const [{ method, path }] = routes
          const parts = permission.Properties.SourceArn['Fn::Join'][1]
          if (parts.at(-1) !== '/*/*') throw new Error(`${name}: the framework's permission is not what route-permissions.cjs narrows`)
          parts[parts.length - 1] = `/*/${method.toUpperCase()}/${path.replace(/^\//, '').replace(/\{[^}]+\}/g, '*')}`
        }
      }
    }
  }
}

module.exports = RoutePermissions
