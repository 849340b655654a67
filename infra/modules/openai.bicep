// A new Azure OpenAI resource with the realtime model deployment and, when enabled, a small text
// model for post-call analysis. Created only when no existing resource is given. The Realtime API
// over SIP is offered in swedencentral and eastus2.

@description('Azure OpenAI resource name; also its custom subdomain (https://<name>.openai.azure.com).')
param name string

@description('Region of the Azure OpenAI resource (the SIP endpoint is <region>.sip.ai.azure.com).')
@allowed([
  'swedencentral'
  'eastus2'
])
param location string

@description('Tags applied to the resource.')
param tags object = {}

@description('Disable API keys (Entra ID only). The app never uses a key.')
param disableLocalAuth bool = true

@description('Deployment name; the app sends it as "model" when it accepts a call.')
param deploymentName string

@description('Realtime model name.')
param modelName string

@description('Realtime model version.')
param modelVersion string

@description('Deployment SKU: realtime over SIP is offered for global deployments only.')
@allowed([
  'GlobalStandard'
])
param deploymentSku string = 'GlobalStandard'

@description('Deployment capacity (units of the SKU\'s rate limit).')
@minValue(1)
param capacity int

@description('Deploy the post-call analysis model (a text model with Structured Outputs).')
param analysisEnabled bool = true

@description('Analysis deployment name (AZURE_OPENAI_ANALYSIS_DEPLOYMENT).')
param analysisDeploymentName string

@description('Analysis model name.')
param analysisModelName string

@description('Analysis model version.')
param analysisModelVersion string

@description('Analysis deployment capacity (thousands of tokens per minute on GlobalStandard).')
@minValue(1)
param analysisCapacity int

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134: Public network access stays on: the function app (no VNet integration here) calls the call-control REST API and the call WebSocket over the public endpoint; access is Entra ID only (disableLocalAuth).
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  identity: {
    type: 'SystemAssigned'
  }
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: disableLocalAuth
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource realtime 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSku
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
    versionUpgradeOption: 'NoAutoUpgrade'
  }
}

// Deployments of one account are created one after the other: in parallel the second fails with a
// conflict while the first is still being created.
resource analysis 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = if (analysisEnabled) {
  parent: account
  name: analysisDeploymentName
  sku: {
    name: 'GlobalStandard'
    capacity: analysisCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: analysisModelName
      version: analysisModelVersion
    }
    versionUpgradeOption: 'NoAutoUpgrade'
  }
  dependsOn: [
    realtime
  ]
}

output name string = account.name
output deploymentName string = realtime.name
output analysisDeploymentName string = analysisEnabled ? analysisDeploymentName : ''
