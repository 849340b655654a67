// Durable Task Scheduler (Consumption SKU): the managed Durable Functions backend. It pushes work
// to the app over gRPC (no queue polling), keeps orchestration history, entity state and the call
// records, and purges finished instances after retentionDays. Deployed when durableBackend is
// 'durableTaskScheduler' (the default); the app connects with its user-assigned identity.

@description('Scheduler name (3-64 letters, digits and hyphens).')
@minLength(3)
@maxLength(64)
param name string

@description('Task hub name; must equal hubName in host.json.')
@minLength(3)
@maxLength(45)
param taskHubName string

@description('Azure region (the same as the function app keeps the gRPC hops short).')
param location string

@description('Tags applied to the scheduler.')
param tags object = {}

@description('Days finished orchestrations (call records) are kept before the scheduler purges them; the Consumption SKU keeps at most 30.')
@minValue(1)
@maxValue(30)
param retentionDays int

@description('Principal (object) id of the function app\'s user-assigned identity.')
param appPrincipalId string

@description('Object id of the operator (scheduler dashboard access); empty = no operator role.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string = 'User'

// Durable Task Data Contributor: run orchestrations, activities and entities; read the dashboard.
var dataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402'
var assignOperator = !empty(operatorPrincipalId) && !startsWith(operatorPrincipalId, '$')

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // An empty allow list denies every client: the app reaches the scheduler over the internet
    // (no VNet here) and authenticates with its managed identity and the role below.
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

// The scheduler's own purge of finished instances, matched to CALL_RECORD_RETENTION_DAYS.
resource retention 'Microsoft.DurableTask/schedulers/retentionPolicies@2025-11-01' = {
  parent: scheduler
  name: 'default'
  properties: {
    retentionPolicies: [
      {
        retentionPeriodInDays: retentionDays
      }
    ]
  }
}

resource appDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, appPrincipalId, dataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignOperator) {
  name: guid(scheduler.id, operatorPrincipalId, dataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output name string = scheduler.name
// e.g. https://dts-abc-h3c4d5.swedencentral.durabletask.io (with a hash: never build it by hand)
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
output dashboardUrl string = taskHub.properties.dashboardUrl
