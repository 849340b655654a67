// Flex Consumption (FC1) plan + Python 3.11 function app. Every data-plane connection uses the
// user-assigned identity: storage (AzureWebJobsStorage__*), the deployment package, Application
// Insights (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), Key Vault references and Azure OpenAI
// (AZURE_CLIENT_ID for DefaultAzureCredential). No setting holds a key or a plain secret.

@description('Function app name (becomes <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Storage account of the Functions host and the Durable task hub.')
param storageAccountName string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (no key: ingestion is Entra-authenticated).')
param appInsightsConnectionString string

@description('Upper bound of instances the app scales out to (Flex Consumption allows 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances for the Durable group (orchestrations, activities, entities). 0 = scale to zero.')
@minValue(0)
@maxValue(10)
param alwaysReadyDurableInstances int

@description('Always-ready instances for the HTTP group (the webhook and the operator API). 0 = the first webhook after an idle period waits for a cold start.')
@minValue(0)
@maxValue(10)
param alwaysReadyHttpInstances int

@description('Durable Functions backend: durableTaskScheduler (managed, push over gRPC) or azureStorage (queues and tables in the app\'s storage account).')
@allowed([
  'durableTaskScheduler'
  'azureStorage'
])
param durableBackend string

@description('Durable Task Scheduler endpoint (durableTaskScheduler backend only).')
param schedulerEndpoint string = ''

@description('Durable task hub name (host.json hubName).')
param taskHubName string

@description('Log Analytics workspace that receives the app\'s diagnostic logs.')
param workspaceId string

@description('Memory per instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Azure OpenAI endpoint, https://<resource>.openai.azure.com.')
param openAiEndpoint string

@description('Realtime deployment name (sent as "model").')
param openAiDeployment string

@description('Post-call analysis deployment name; empty = no analysis.')
param analysisDeployment string

@description('Key Vault secret URI (no version) of the webhook signing secret.')
param webhookSecretUri string

@description('Key Vault secret URI (no version) of the caller index\'s HMAC key (at least 32 characters, never rotated).')
param callerKeySecretUri string

@description('Name of the call store\'s tables and blob container.')
@minLength(3)
@maxLength(40)
param callStoreName string

@description('https URL call events are POSTed to; empty = no events.')
param callEventsUrl string

@description('Key Vault secret URI (no version) of the call events signing secret; referenced only when callEventsUrl is set.')
param callEventsSecretUri string

@description('Waits between attempts of a call event; empty = the app\'s default.')
param callEventsRetrySeconds string

@description('System instructions for the call agent.')
param callInstructions string

@description('Realtime voice.')
param callVoice string

@description('What the agent says first.')
param callGreeting string

@description('tel: or sip: URI calls are transferred to; empty = no transfer.')
param transferTargetUri string

@description('Caller-side transcription model; off disables caller transcripts.')
param callTranscriptionModel string

@description('Seconds the leg may stay up after REFER before a transfer counts as failed.')
@minValue(1)
@maxValue(300)
param transferVerifySeconds int

@description('Longest call in seconds, below the 60-minute realtime session limit.')
@minValue(10)
@maxValue(3540)
param maxCallSeconds int

@description('Comma-separated E.164 numbers; when set, only these are answered.')
param callerAllowlist string

@description('Comma-separated E.164 numbers that are refused.')
param callerBlocklist string

@description('Comma-separated country calling codes; when set, other countries are refused.')
param allowedCountryCodes string

@description('accept or reject callers with a hidden or unparsable number.')
@allowed([
  'accept'
  'reject'
])
param anonymousCallers string

@description('SIP status for refused callers.')
@minValue(400)
@maxValue(699)
param rejectSipStatus int

@description('Agent definition file, relative to the app root; empty = built-in agent.')
param agentDefinition string

@description('department=target pairs for transfer_call.')
param transferTargets string

@description('Numbers, prefixes and domains transfers may go to; empty = any valid target.')
param transferAllowedTargets string

@description('The SIP header the trunk vouches for the caller\'s number in.')
@allowed([
  'from'
  'p-asserted-identity'
])
param callerIdHeader string

@description('Two-letter region in which national numbers are read; empty = international forms only.')
@maxLength(2)
param defaultRegion string

@description('Target tried once when a transfer does not complete; empty = none.')
param transferFallbackUri string

@description('Seconds after the webhook before an unanswered accept is abandoned.')
@minValue(2)
@maxValue(300)
param ringTimeoutSeconds int

@description('Seconds of silence before the agent checks in (then ends the call); 0 = off.')
@minValue(0)
@maxValue(3600)
param silenceSeconds int

@description('Live calls across all instances; 0 = no limit.')
@minValue(0)
@maxValue(100000)
param maxConcurrentCalls int

@description('Opening windows, e.g. mon-fri 09:00-17:00; empty = always open.')
param businessHours string

@description('IANA time zone of businessHours.')
param businessTimeZone string

@description('accept (after-hours agent) or reject calls outside business hours.')
@allowed([
  'accept'
  'reject'
])
param afterHours string

@description('SIP status for calls refused after hours.')
@minValue(400)
@maxValue(699)
param afterHoursSipStatus int

@description('USD per million tokens for the cost estimate; empty = defaults.')
param usagePrices string

@description('Days finished call records are kept before the daily purge.')
@minValue(1)
@maxValue(3650)
param callRecordRetentionDays int

@description('on = earlier calls\' summaries in the agent\'s instructions at accept; off = none.')
@allowed([
  'on'
  'off'
])
param callerMemory string

@description('Longest single run of the call-monitor activity, in seconds.')
@minValue(60)
@maxValue(3300)
param monitorSliceSeconds int

@description('Further app settings merged in (anything not covered by a parameter). Never secrets: those go through Key Vault references.')
param extraAppSettings object = {}

// functionTimeout = monitor slice + 5 minutes of margin (1500 s -> 00:30:00, the value host.json
// carries). The app setting overrides host.json, so infra and the monitor slice cannot drift apart;
// the 3300 s cap keeps it within the 60-minute scale-in grace of Flex Consumption.
var functionTimeoutSeconds = monitorSliceSeconds + 300
var functionTimeout = '${padLeft(string(functionTimeoutSeconds / 3600), 2, '0')}:${padLeft(string((functionTimeoutSeconds % 3600) / 60), 2, '0')}:${padLeft(string(functionTimeoutSeconds % 60), 2, '0')}'

// Flex scales HTTP triggers in the 'http' group and Durable triggers in the 'durable' group; each
// always-ready instance is billed while idle. (Parentheses: checkov's parser misreads a bare
// comparison before '?'.)
var alwaysReady = concat((alwaysReadyDurableInstances > 0) ? [
  {
    name: 'durable'
    instanceCount: alwaysReadyDurableInstances
  }
] : [], (alwaysReadyHttpInstances > 0) ? [
  {
    name: 'http'
    instanceCount: alwaysReadyHttpInstances
  }
] : [])

// Later keys win in union(): the settings below override anything of the same name in
// extraAppSettings, so extra settings cannot replace the identity-based connections.
var appSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureFunctionsJobHost__functionTimeout: functionTimeout
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_DEPLOYMENT: openAiDeployment
  AZURE_OPENAI_ANALYSIS_DEPLOYMENT: analysisDeployment
  OPENAI_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
  // The host's own cap on a request body (default 100 MB): the app refuses bodies over 1 MiB, and
  // this stops a larger one while it arrives, before the worker holds it whole.
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1048576'
  CALL_INSTRUCTIONS: callInstructions
  CALL_VOICE: callVoice
  CALL_GREETING: callGreeting
  TRANSFER_TARGET_URI: transferTargetUri
  MONITOR_SLICE_SECONDS: string(monitorSliceSeconds)
  CALL_TRANSCRIPTION_MODEL: callTranscriptionModel
  TRANSFER_VERIFY_SECONDS: string(transferVerifySeconds)
  MAX_CALL_SECONDS: string(maxCallSeconds)
  CALLER_ALLOWLIST: callerAllowlist
  CALLER_BLOCKLIST: callerBlocklist
  ALLOWED_COUNTRY_CODES: allowedCountryCodes
  ANONYMOUS_CALLERS: anonymousCallers
  REJECT_SIP_STATUS: string(rejectSipStatus)
  AGENT_DEFINITION: agentDefinition
  TRANSFER_TARGETS: transferTargets
  TRANSFER_ALLOWED_TARGETS: transferAllowedTargets
  CALLER_ID_HEADER: callerIdHeader
  DEFAULT_REGION: defaultRegion
  TRANSFER_FALLBACK_URI: transferFallbackUri
  RING_TIMEOUT_SECONDS: string(ringTimeoutSeconds)
  SILENCE_SECONDS: string(silenceSeconds)
  MAX_CONCURRENT_CALLS: string(maxConcurrentCalls)
  BUSINESS_HOURS: businessHours
  BUSINESS_TIME_ZONE: businessTimeZone
  AFTER_HOURS: afterHours
  AFTER_HOURS_SIP_STATUS: string(afterHoursSipStatus)
  USAGE_PRICES: usagePrices
  CALL_RECORD_RETENTION_DAYS: string(callRecordRetentionDays)
  CALLER_MEMORY: callerMemory
  CALL_STORE_NAME: callStoreName
  CALL_STORE_CALLER_KEY: '@Microsoft.KeyVault(SecretUri=${callerKeySecretUri})'
  CALL_EVENTS_URL: callEventsUrl
  // The app requires the secret with the URL; without a URL neither is set.
  CALL_EVENTS_SECRET: empty(callEventsUrl) ? '' : '@Microsoft.KeyVault(SecretUri=${callEventsSecretUri})'
  CALL_EVENTS_RETRY_SECONDS: callEventsRetrySeconds
  TASKHUB_NAME: taskHubName
  // The call_ended events (switchboard/telemetry.py) reach Application Insights with their fields
  // as custom dimensions only through the worker's Azure Monitor OpenTelemetry distro; limited to
  // that one logger, so every other log line keeps its single path through the host.
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  PYTHON_AZURE_MONITOR_LOGGER_NAME: 'switchboard.telemetry'
}

// host.json configures the Azure Storage provider (also what runs locally on Azurite); for the
// scheduler these settings override its storageProvider section (AzureFunctionsJobHost__ settings
// override host.json), so one package and `func azure functionapp publish` serve both backends.
var schedulerSettings = {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
}
var durableSettings = (durableBackend == 'durableTaskScheduler') ? schedulerSettings : {}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is limited to some regions and needs more always-ready capacity (billed at idle); a call in flight is lost on an instance failure either way.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Public network access stays on: Azure OpenAI delivers the realtime.call.incoming webhook from the internet; the route is authenticated by the webhook signature, the operator API by function keys.
  // checkov:skip=CKV_AZURE_17: The webhook sender (Azure OpenAI) cannot present client certificates; requests are authenticated by the HMAC webhook signature.
  // checkov:skip=CKV_AZURE_212: Flex Consumption has no fixed instance count: it scales per demand up to maximumInstanceCount, with alwaysReadyDurableInstances kept warm.
  // checkov:skip=CKV_AZURE_213: Health check probes are an App Service feature Flex Consumption does not use; the platform manages instance health.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
  }
}

// No FTP and no basic-auth publishing: azd and Core Tools deploy with Entra tokens.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: Built-in App Service Authentication would block the webhook: it is authenticated by its signature, the operator API by function keys.
  // checkov:skip=CKV_AZURE_222: This is the app-settings collection; public access is decided on the site (see CKV_AZURE_222 there).
  // checkov:skip=CKV_AZURE_63: Not applicable to the app-settings collection (HTTP logging lives on the web config); function logs go to Application Insights.
  // checkov:skip=CKV_AZURE_65: Not applicable to the app-settings collection (detailed errors live on the web config); errors go to Application Insights.
  // checkov:skip=CKV_AZURE_66: Not applicable to the app-settings collection (request tracing lives on the web config); requests are traced in Application Insights.
  // checkov:skip=CKV_AZURE_80: Not applicable: the app runs Python 3.11, not .NET Framework.
  // checkov:skip=CKV_AZURE_88: Not applicable: Flex Consumption has no Azure Files content share; the package lives in a blob container.
  parent: app
  name: 'appsettings'
  properties: union(extraAppSettings, appSettings, durableSettings)
}

// Function execution logs to Log Analytics as well (queryable beside the Key Vault audit log).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: app
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
