// An Azure Monitor workbook for the people who run the line: calls per hour by end reason,
// webhook-to-accept latency, call durations, transfers, busy and refused calls, estimated cost.
// Its queries read the call_ended events switchboard/telemetry.py writes (custom dimensions of
// the traces in Application Insights); the workbook itself is infra/dashboard/calls.workbook.json.

@description('Workbook resource name (a GUID).')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the workbook.')
param tags object = {}

@description('Resource id of the Application Insights component the queries run against.')
param appInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Switchboard calls'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('../dashboard/calls.workbook.json')
    version: 'Notebook/1.0'
  }
}

output id string = workbook.id
