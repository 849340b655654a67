// Switchboard: answer phone calls with the GPT Realtime API over SIP on Azure Functions
// (Flex Consumption + Durable Functions). Deploy into a resource group:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json ...
// or `azd up` (azure.yaml). See docs/deploy.md. Plain resource declarations in small local modules:
// no registry modules, so checkov and the structural tests in tests/infra see every resource.
targetScope = 'resourceGroup'

@description('Azure region of the app and its storage, monitoring and vault (must offer Flex Consumption).')
param location string = resourceGroup().location

@description('Short prefix of resource names: 2-10 lowercase letters and digits (storage account names allow nothing else).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'switchbd'

@description('Tags applied to every resource.')
param tags object = {}

@description('Object id of the person or CI principal who runs scripts/register_webhook.py (Key Vault Secrets Officer on the vault, Cognitive Services User on Azure OpenAI). azd fills in the signed-in user; empty = no operator roles.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId (azd passes AZURE_PRINCIPAL_TYPE: User, or ServicePrincipal when a service principal runs azd).')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string = 'User'

// --- Azure OpenAI -------------------------------------------------------------------------------

@description('Name of an existing Azure OpenAI resource to use; empty = create a new one (with a realtime deployment).')
param existingOpenAiName string = ''

@description('Resource group of the existing Azure OpenAI resource; empty = this resource group.')
param existingOpenAiResourceGroup string = ''

@description('Region of a new Azure OpenAI resource (the Realtime API over SIP is offered in these regions).')
@allowed([
  'swedencentral'
  'eastus2'
])
param openAiLocation string = 'swedencentral'

@description('New Azure OpenAI resource only: disable API keys (Entra ID only). The app never uses a key; set false only if webhook registration must fall back to an api-key.')
param openAiDisableLocalAuth bool = true

@description('Realtime deployment name the app sends as "model" (for an existing resource: the name of its realtime deployment).')
param realtimeDeploymentName string = 'gpt-realtime'

@description('New Azure OpenAI resource only: realtime model name.')
param realtimeModelName string = 'gpt-realtime'

@description('New Azure OpenAI resource only: realtime model version.')
param realtimeModelVersion string = '2025-08-28'

@description('New Azure OpenAI resource only: deployment SKU. Realtime over SIP is offered for global deployments (East US 2, Sweden Central).')
@allowed([
  'GlobalStandard'
])
param realtimeDeploymentSku string = 'GlobalStandard'

@description('New Azure OpenAI resource only: deployment capacity.')
@minValue(1)
param realtimeCapacity int = 10

@description('Post-call analysis (AZURE_OPENAI_ANALYSIS_DEPLOYMENT): true = a new resource gets the analysis deployment and the app analyses every finished call with it; false = no deployment, the setting stays empty and calls are not analysed.')
param analysisEnabled bool = true

@description('Analysis deployment name, AZURE_OPENAI_ANALYSIS_DEPLOYMENT (for an existing resource: the name of its text deployment; the model must support Structured Outputs).')
param analysisDeploymentName string = 'call-analysis'

@description('New Azure OpenAI resource only: analysis model, a small text model with Structured Outputs offered as GlobalStandard.')
param analysisModel string = 'gpt-4.1-mini'

@description('New Azure OpenAI resource only: analysis model version.')
param analysisModelVersion string = '2025-04-14'

@description('New Azure OpenAI resource only: analysis deployment capacity (GlobalStandard: thousands of tokens per minute; one analysis is a few thousand tokens).')
@minValue(1)
param analysisCapacity int = 10

@description('Role of the app\'s identity on Azure OpenAI.')
@allowed([
  'CognitiveServicesUser'
  'CognitiveServicesOpenAIUser'
])
param appOpenAiRole string = 'CognitiveServicesUser'

// --- Function app -------------------------------------------------------------------------------

@description('Maximum instances the Flex Consumption app scales out to (Flex allows 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances for the Durable group: 1 avoids cold starts of the orchestrator and monitor (billed while idle); 0 scales to zero.')
@minValue(0)
@maxValue(10)
param alwaysReadyDurableInstances int = 1

@description('Always-ready instances for the HTTP group: 1 keeps the webhook warm, so the first call after an idle period is not answered by a cold start (billed while idle); 0 scales to zero.')
@minValue(0)
@maxValue(10)
param alwaysReadyHttpInstances int = 1

@description('Durable Functions backend: durableTaskScheduler (managed, pushes work over gRPC, no queue polling; Consumption SKU) or azureStorage (queues and tables in the app\'s storage account). See docs/deploy.md.')
@allowed([
  'durableTaskScheduler'
  'azureStorage'
])
param durableBackend string = 'durableTaskScheduler'

@description('Memory per instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('AGENT_DEFINITION: path (relative to the app root) of a TOML agent definition, e.g. agents/front_desk.toml; empty = the built-in agent.')
param agentDefinition string = ''

@description('CALL_INSTRUCTIONS: overrides the agent definition\'s instructions; empty = keep them.')
param callInstructions string = ''

@description('CALL_VOICE: overrides the agent definition\'s voice; empty = keep it.')
@allowed([
  ''
  'alloy'
  'ash'
  'ballad'
  'coral'
  'echo'
  'sage'
  'shimmer'
  'verse'
  'marin'
  'cedar'
])
param callVoice string = ''

@description('CALL_GREETING: overrides the agent definition\'s greeting; empty = keep it.')
param callGreeting string = ''

@description('TRANSFER_TARGET_URI: tel: or sip: URI for transfers to a human; empty = no transfer.')
param transferTargetUri string = ''

@description('CALL_TRANSCRIPTION_MODEL: caller-side transcription model; off disables caller transcripts.')
param callTranscriptionModel string = 'whisper-1'

@description('TRANSFER_ALLOWED_TARGETS: where calls may be transferred: numbers (+14155550100), prefixes (+1415555*), domains (pbx.example.com); configured and operator targets must match. Empty = any valid target; set it in production.')
param transferAllowedTargets string = ''

@description('TRANSFER_VERIFY_SECONDS: how long the leg may stay up after REFER before the transfer counts as failed.')
@minValue(1)
@maxValue(300)
param transferVerifySeconds int = 20

@description('MAX_CALL_SECONDS: longest call; the agent wraps up shortly before, then the call is hung up.')
@minValue(10)
@maxValue(3540)
param maxCallSeconds int = 3300

@description('CALLER_ID_HEADER: the SIP header the trunk vouches for the caller\'s number in.')
@allowed([
  'from'
  'p-asserted-identity'
])
param callerIdHeader string = 'from'

@description('DEFAULT_REGION: two-letter region (US, GB, SE) in which national numbers are read, in the caller\'s headers and the lists; empty = only international forms are numbers.')
@maxLength(2)
param defaultRegion string = ''

@description('CALLER_ALLOWLIST: comma-separated E.164 numbers; when set, only these are answered.')
param callerAllowlist string = ''

@description('CALLER_BLOCKLIST: comma-separated E.164 numbers that are refused.')
param callerBlocklist string = ''

@description('ALLOWED_COUNTRY_CODES: e.g. 1,44,46; when set, other countries are refused.')
param allowedCountryCodes string = ''

@description('ANONYMOUS_CALLERS: accept or reject callers with a hidden or unparsable number.')
@allowed([
  'accept'
  'reject'
])
param anonymousCallers string = 'accept'

@description('REJECT_SIP_STATUS: SIP status for refused callers (e.g. 603 Decline, 403 Forbidden).')
@minValue(400)
@maxValue(699)
param rejectSipStatus int = 603

@description('TRANSFER_TARGETS: department=target pairs for transfer_call, e.g. sales=tel:+14155550123,support=sip:help@pbx.example.com.')
param transferTargets string = ''

@description('TRANSFER_FALLBACK_URI: tried once when a transfer does not complete; empty = none.')
param transferFallbackUri string = ''

@description('RING_TIMEOUT_SECONDS: an accept not done this long after the webhook is abandoned (the caller hears 480).')
@minValue(2)
@maxValue(300)
param ringTimeoutSeconds int = 30

@description('SILENCE_SECONDS: silence before the agent checks in once; as long again and the call ends; 0 = off.')
@minValue(0)
@maxValue(3600)
param silenceSeconds int = 30

@description('MAX_CONCURRENT_CALLS: live calls across all instances; more are refused with 486 Busy Here; 0 = no limit.')
@minValue(0)
@maxValue(100000)
param maxConcurrentCalls int = 50

@description('BUSINESS_HOURS: e.g. mon-fri 09:00-17:00, sat 10:00-14:00; empty = always open.')
param businessHours string = ''

@description('BUSINESS_TIME_ZONE: IANA time zone of BUSINESS_HOURS.')
param businessTimeZone string = 'UTC'

@description('AFTER_HOURS: reject calls outside business hours, or accept them with the after-hours agent.')
@allowed([
  'accept'
  'reject'
])
param afterHours string = 'reject'

@description('AFTER_HOURS_SIP_STATUS: SIP status for calls refused after hours (480 Temporarily Unavailable).')
@minValue(400)
@maxValue(699)
param afterHoursSipStatus int = 480

@description('USAGE_PRICES: USD per million tokens for the cost estimate, e.g. audio_in=32,audio_out=64; empty = gpt-realtime list prices.')
param usagePrices string = ''

@description('CALL_RECORD_RETENTION_DAYS: finished call records older than this are purged daily at 03:00 UTC.')
@minValue(1)
@maxValue(3650)
param callRecordRetentionDays int = 30

@description('CALLER_MEMORY: on = the summaries of a caller\'s last 3 calls (within the retention) are added to the agent\'s instructions when the call is answered; needs CALL_STORE_CALLER_KEY (the caller index key scripts/app_secrets.py creates).')
@allowed([
  'on'
  'off'
])
param callerMemory string = 'off'

@description('CALL_STORE_NAME: names the call store\'s two tables (<name>, <name>bycaller) and blob container in the app\'s storage account: 3-40 lowercase letters and digits, starting with a letter.')
@minLength(3)
@maxLength(40)
param callStoreName string = 'switchboardcalls'

@description('CALL_EVENTS_URL: https URL that call.started / call.ended events are POSTed to (Standard Webhooks); empty = no events, and CALL_EVENTS_SECRET stays empty too.')
param callEventsUrl string = ''

@description('CALL_EVENTS_RETRY_SECONDS: waits between attempts of an event, e.g. 5,30,120,600 (up to 10, each 0.1-3600); empty = that default.')
param callEventsRetrySeconds string = ''

@description('MONITOR_SLICE_SECONDS: longest single run of the call-monitor activity; functionTimeout is set to this + 5 minutes (1500 -> 00:30:00).')
@minValue(60)
@maxValue(3300)
param monitorSliceSeconds int = 1500

@description('Further app settings for agent behaviour added later (anything not covered by a parameter above). Values must not be secrets; the settings above win over keys of the same name.')
param extraAppSettings object = {}

// --- Secrets and monitoring ---------------------------------------------------------------------

@description('Name of the Key Vault secret holding the webhook signing secret (written by scripts/register_webhook.py).')
param webhookSecretName string = 'openai-webhook-secret'

@description('Name of the Key Vault secret holding CALL_STORE_CALLER_KEY, the caller index\'s HMAC key. scripts/app_secrets.py (postprovision hook) creates it once with a random value; never rotate it (calls already stored would no longer be found by caller).')
param callerKeySecretName string = 'call-store-caller-key'

@description('Name of the Key Vault secret holding CALL_EVENTS_SECRET (whsec_...), referenced only when callEventsUrl is set. scripts/app_secrets.py (postprovision hook) creates it with a random value when missing; the receiver verifies with the same.')
param callEventsSecretName string = 'call-events-secret'

@description('Soft-delete retention of the Key Vault in days (purge protection keeps the vault name reserved this long after deletion).')
@minValue(7)
@maxValue(90)
param keyVaultRetentionDays int = 7

@description('Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var token = toLower(uniqueString(subscription().id, resourceGroup().id, namePrefix))
var createOpenAi = empty(existingOpenAiName)
var openAiName = createOpenAi ? 'oai-${namePrefix}-${token}' : existingOpenAiName
var openAiResourceGroup = createOpenAi || empty(existingOpenAiResourceGroup) ? resourceGroup().name : existingOpenAiResourceGroup
var functionAppName = 'func-${namePrefix}-${token}'
// Must equal hubName in host.json: the Azure Storage provider reads it there, the scheduler's
// task hub resource carries it.
var taskHubName = 'switchboard'
var useScheduler = durableBackend == 'durableTaskScheduler'
var callEventsOn = !empty(callEventsUrl)
var deploymentContainerName = 'app-package-${take(token, 8)}'
var allTags = union(tags, {
  app: 'switchboard'
})

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${namePrefix}-${token}'
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${namePrefix}${token}', 24)
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${namePrefix}-${token}'
    appInsightsName: 'appi-${namePrefix}-${token}'
    location: location
    tags: allTags
    retentionInDays: logRetentionDays
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyVault'
  params: {
    name: take('kv-${namePrefix}-${token}', 24)
    location: location
    tags: allTags
    softDeleteRetentionInDays: keyVaultRetentionDays
    workspaceId: monitoring.outputs.workspaceId
  }
}

module durableTask 'modules/durabletask.bicep' = if (useScheduler) {
  name: 'durableTask'
  params: {
    name: 'dts-${namePrefix}-${token}'
    taskHubName: taskHubName
    location: location
    tags: allTags
    retentionDays: min(callRecordRetentionDays, 30)
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module dashboard 'modules/dashboard.bicep' = {
  name: 'dashboard'
  params: {
    name: guid(resourceGroup().id, namePrefix, 'switchboard-calls-workbook')
    location: location
    tags: allTags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module openAi 'modules/openai.bicep' = if (createOpenAi) {
  name: 'openAi'
  params: {
    name: openAiName
    location: openAiLocation
    tags: allTags
    disableLocalAuth: openAiDisableLocalAuth
    deploymentName: realtimeDeploymentName
    modelName: realtimeModelName
    modelVersion: realtimeModelVersion
    deploymentSku: realtimeDeploymentSku
    capacity: realtimeCapacity
    analysisEnabled: analysisEnabled
    analysisDeploymentName: analysisDeploymentName
    analysisModelName: analysisModel
    analysisModelVersion: analysisModelVersion
    analysisCapacity: analysisCapacity
  }
}

module openAiAccess 'modules/openai-access.bicep' = {
  name: 'openAiAccess'
  scope: resourceGroup(openAiResourceGroup)
  params: {
    accountName: openAiName
    appPrincipalId: identity.outputs.principalId
    appRole: appOpenAiRole
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
  dependsOn: [
    openAi
  ]
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionApp'
  params: {
    name: functionAppName
    planName: 'plan-${namePrefix}-${token}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyDurableInstances: alwaysReadyDurableInstances
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    durableBackend: durableBackend
    schedulerEndpoint: useScheduler ? durableTask.outputs.endpoint : ''
    taskHubName: taskHubName
    workspaceId: monitoring.outputs.workspaceId
    instanceMemoryMB: instanceMemoryMB
    openAiEndpoint: openAiAccess.outputs.endpoint
    openAiDeployment: realtimeDeploymentName
    analysisDeployment: analysisEnabled ? analysisDeploymentName : ''
    webhookSecretUri: '${keyVault.outputs.uri}secrets/${webhookSecretName}'
    callerKeySecretUri: '${keyVault.outputs.uri}secrets/${callerKeySecretName}'
    callEventsUrl: callEventsUrl
    callEventsSecretUri: '${keyVault.outputs.uri}secrets/${callEventsSecretName}'
    callEventsRetrySeconds: callEventsRetrySeconds
    callStoreName: callStoreName
    callInstructions: callInstructions
    callVoice: callVoice
    callGreeting: callGreeting
    transferTargetUri: transferTargetUri
    monitorSliceSeconds: monitorSliceSeconds
    callTranscriptionModel: callTranscriptionModel
    transferVerifySeconds: transferVerifySeconds
    maxCallSeconds: maxCallSeconds
    callerAllowlist: callerAllowlist
    callerBlocklist: callerBlocklist
    allowedCountryCodes: allowedCountryCodes
    anonymousCallers: anonymousCallers
    rejectSipStatus: rejectSipStatus
    agentDefinition: agentDefinition
    transferTargets: transferTargets
    transferAllowedTargets: transferAllowedTargets
    callerIdHeader: callerIdHeader
    defaultRegion: defaultRegion
    transferFallbackUri: transferFallbackUri
    ringTimeoutSeconds: ringTimeoutSeconds
    silenceSeconds: silenceSeconds
    maxConcurrentCalls: maxConcurrentCalls
    businessHours: businessHours
    businessTimeZone: businessTimeZone
    afterHours: afterHours
    afterHoursSipStatus: afterHoursSipStatus
    usagePrices: usagePrices
    callRecordRetentionDays: callRecordRetentionDays
    callerMemory: callerMemory
    extraAppSettings: extraAppSettings
  }
  // The host starts as soon as its settings exist: its identity must already hold the data roles.
  dependsOn: [
    roles
    storage
    durableTask
  ]
}

// Outputs: azd stores each one in the environment (.azure/<env>/.env), where the postprovision hook
// (scripts/register_webhook.py) reads them.
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_ID string = functionApp.outputs.id
output WEBHOOK_URL string = 'https://${functionApp.outputs.defaultHostName}/api/calls/incoming'
// Built from the account's properties.internalId (marked deprecated in the API): if it ever comes
// back empty, read internalId in the portal's JSON view of the resource (docs/deploy.md).
output SIP_URI string = openAiAccess.outputs.sipUri
output AZURE_OPENAI_LOCATION string = openAiAccess.outputs.location
output DURABLE_BACKEND string = durableBackend
// The scheduler's dashboard: every call's orchestration, for the operator (empty with Azure Storage).
output DURABLE_TASK_DASHBOARD_URL string = useScheduler ? durableTask.outputs.dashboardUrl : ''
output AZURE_OPENAI_ENDPOINT string = openAiAccess.outputs.endpoint
output AZURE_OPENAI_DEPLOYMENT string = realtimeDeploymentName
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output WEBHOOK_SECRET_NAME string = webhookSecretName
output AZURE_OPENAI_ANALYSIS_DEPLOYMENT string = analysisEnabled ? analysisDeploymentName : ''
// The app secrets the postprovision hook creates in the vault when missing (never overwritten);
// the events secret only when events are on.
output CALL_STORE_CALLER_KEY_NAME string = callerKeySecretName
output CALL_EVENTS_SECRET_NAME string = callEventsOn ? callEventsSecretName : ''
output AZURE_CLIENT_ID string = identity.outputs.clientId
