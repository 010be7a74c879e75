'use strict'
// A serverless plugin. API Gateway serves a REST API's gateway responses (its own
// answers: unknown routes, missing API keys, throttling) from the API's latest
// deployment. The framework makes that deployment wait for the methods only, so
// on the deploy that adds or changes a gateway response CloudFormation could
// snapshot the API before it; here the deployment waits for them too.
class GatewayResponsesFirst {
  constructor (serverless) {
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => {
        const resources = serverless.service.provider.compiledCloudFormationTemplate.Resources
        const ids = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::ApiGateway::GatewayResponse')
        for (const resource of Object.values(resources)) {
          if (resource.Type === 'AWS::ApiGateway::Deployment') resource.DependsOn = [...new Set([...[resource.DependsOn ?? []].flat(), ...ids])]
        }
      }
    }
  }
}

module.exports = GatewayResponsesFirst
