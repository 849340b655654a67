// Key Vault (RBAC mode) that holds the OpenAI webhook signing secret and the app's own secrets
// (caller index key, call events secret). No secret is created here: the postprovision hook
// writes them (scripts/app_secrets.py when missing, scripts/register_webhook.py after
// registering), so a re-provision never overwrites a live secret with a placeholder.

@description('Key Vault name (3-24 characters, globally unique, reserved for the soft-delete retention period after deletion).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags applied to the vault.')
param tags object = {}

@description('Days a deleted vault (and its secrets) can be recovered. With purge protection the name stays reserved this long.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

@description('Log Analytics workspace that receives the vault\'s audit log.')
param workspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: The Flex Consumption app has no VNet integration here and resolves its Key Vault reference over the public endpoint, and the operator's machine writes the secret; access is Entra ID + RBAC (no access policies).
  // checkov:skip=CKV_AZURE_189: Public network access stays enabled for the same reason as CKV_AZURE_109.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Who read or wrote the webhook secret, and when: the AuditEvent log in Log Analytics.
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
// Ends with a slash, e.g. https://kv-abc.vault.azure.net/
output uri string = vault.properties.vaultUri
