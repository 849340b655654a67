"""What ``register_webhook.py`` tells the operator.

Hints on refusals, the one-time api-key path when the webhook API refuses an Entra token, and the
SIP URI check; kept apart from the REST client so each reads on its own.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

# Where Microsoft documents the Realtime API over SIP (global deployments).
SIP_REGIONS = ("eastus2", "swedencentral")
SIP_URI = re.compile(r"^sip:proj_(?P<project>[^@]*)@(?P<region>[a-z0-9]+)\.sip\.ai\.azure\.com")


def hint(what: str, status: int) -> str:
    """A sentence on what to check after ``status`` from the step ``what``."""
    if status in (401, 403) and "webhook" in what:
        return (
            ". The api-key was refused: check it belongs to this resource and that local auth "
            "is enabled on it (disableLocalAuth=false) while you register"
        )
    if status in (401, 403) and "Key Vault secret" in what:
        return (
            ". You need Key Vault Secrets Officer on the vault (the Bicep grants it to "
            "operatorPrincipalId); a new role assignment can take a few minutes to apply"
        )
    if status in (401, 403):
        return ". Check your Azure sign-in (`az login`) and your role on the resource"
    if status == 404 and "webhook" in what:
        return ". Is --openai-endpoint https://<resource>.openai.azure.com (no path)?"
    return ""


def entra_refused(status: int, openai_endpoint: str, resource_group: str | None) -> str:
    """The one-time api-key path, spelled out, for a webhook API that refuses Entra tokens."""
    account = urlparse(openai_endpoint).hostname or "<resource>"
    account = account.split(".")[0]
    group = resource_group or "<resource group>"
    return f"""\
The webhook endpoints API answered {status} to your Entra token (Microsoft documents only
api-key auth for it). The webhook is NOT registered yet: calls to the number will not reach the
app until you do this once (the deployment itself is complete):

  1. Allow keys on the Azure OpenAI resource for a moment:
       az resource update -g {group} -n {account} \\
         --resource-type Microsoft.CognitiveServices/accounts \\
         --set properties.disableLocalAuth=false
  2. Register with a key (it is used for this call only and never stored):
       export AZURE_OPENAI_API_KEY="$(az cognitiveservices account keys list \\
         -g {group} -n {account} --query key1 -o tsv)"
       azd hooks run postprovision      # or: .venv/bin/python scripts/register_webhook.py
       unset AZURE_OPENAI_API_KEY
  3. Turn keys off again (the next `azd provision` also does this: openAiDisableLocalAuth):
       az resource update -g {group} -n {account} \\
         --resource-type Microsoft.CognitiveServices/accounts \\
         --set properties.disableLocalAuth=true

The registered webhook and the secret in Key Vault stay valid with keys off. See
docs/deploy.md, "Webhook registration when Entra is refused"."""


def sip_uri_notes(sip_uri: str | None, location: str | None) -> list[str]:
    """Lines to print about the SIP URI the trunk must dial (and what is wrong with it)."""
    if not sip_uri:
        return ["SIP URI: not known here (set SIP_URI, e.g. `azd env get-value SIP_URI`)"]
    lines = [f"SIP URI for your trunk: {sip_uri}"]
    match = SIP_URI.match(sip_uri)
    region = (location or (match.group("region") if match else "")).lower()
    if match is None or not match.group("project"):
        lines.append(
            "WARNING: the SIP URI has no project id: the template reads the resource's "
            "properties.internalId (marked deprecated). Read internalId in the portal "
            "(the resource's Overview -> JSON View) or with `az cognitiveservices account show "
            "--query properties.internalId`, and dial sip:proj_<internalId>@<region>"
            ".sip.ai.azure.com;transport=tls"
        )
    if region and region not in SIP_REGIONS:
        lines.append(
            f"WARNING: the Azure OpenAI resource is in {region}; realtime over SIP is "
            f"documented for global deployments in {' and '.join(SIP_REGIONS)} only"
        )
    return lines
