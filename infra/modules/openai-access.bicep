// Deployed into the Azure OpenAI resource's own resource group (new or existing): grants the
// app's identity data-plane access and reports the endpoint and the SIP URI.

@description('Name of the Azure OpenAI resource in this resource group.')
param accountName string

@description('Principal (object) id of the function app\'s user-assigned identity.')
param appPrincipalId string

@description('Role the app gets on the resource: Cognitive Services User (all data actions) or Cognitive Services OpenAI User (narrower; check it covers realtime call control before choosing it).')
@allowed([
  'CognitiveServicesUser'
  'CognitiveServicesOpenAIUser'
])
param appRole string = 'CognitiveServicesUser'

@description('Object id of the operator who registers the webhook with an Entra token; empty = no operator role.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string = 'User'

var roleIds = {
  CognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  CognitiveServicesOpenAIUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
}
var assignOperator = !empty(operatorPrincipalId) && !startsWith(operatorPrincipalId, '$')

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

// Cognitive Services User (or OpenAI User): accept / refer / hang up calls, open the call WebSocket.
resource appOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, roleIds[appRole])
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[appRole])
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Cognitive Services User for the operator: webhook registration with an Entra token.
resource operatorOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignOperator) {
  name: guid(account.id, operatorPrincipalId, 'a97b65f3-24c7-4388-baec-2e87135dc908')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a97b65f3-24c7-4388-baec-2e87135dc908')
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output endpoint string = 'https://${account.properties.customSubDomainName}.openai.azure.com'
output location string = account.location
output sipUri string = 'sip:proj_${account.properties.internalId}@${account.location}.sip.ai.azure.com;transport=tls'
