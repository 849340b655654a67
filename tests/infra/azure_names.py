"""Azure's naming rules for the resource types this app deploys.

From "Naming rules and restrictions for Azure resources" (Azure Resource Manager docs) and, for
the Durable Task Scheduler, the resource provider's own name pattern (``^[a-zA-Z0-9-]{3,64}$``,
bicep-types-az ``microsoft.durabletask/2025-11-01``). Names are case-insensitive unless a rule
says lowercase. A rule is length bounds plus a full-match pattern, with the rule in words for
the failure message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ALNUM_HYPHEN_INNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"


@dataclass(frozen=True)
class Rule:
    """Length bounds and a full-match pattern, with the rule in words."""

    low: int
    high: int
    pattern: str
    words: str

    def violation(self, name: str) -> str | None:
        """Why ``name`` breaks the rule, or None."""
        if not self.low <= len(name) <= self.high and self.low != self.high:
            return f"{len(name)} characters, must be {self.low}-{self.high}"
        if not re.fullmatch(self.pattern, name):
            return f"must be {self.words}"
        return None


RULES: dict[str, Rule] = {
    "microsoft.storage/storageaccounts": Rule(
        3, 24, r"[a-z0-9]+", "lowercase letters and digits only"
    ),
    "microsoft.storage/storageaccounts/blobservices/containers": Rule(
        3,
        63,
        r"[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]",
        "lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
    ),
    "microsoft.keyvault/vaults": Rule(
        3,
        24,
        r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]",
        "alphanumerics and hyphens, starting with a letter, ending with a letter or digit, "
        "no consecutive hyphens",
    ),
    "microsoft.web/sites": Rule(
        2, 60, ALNUM_HYPHEN_INNER, "alphanumerics and hyphens, not starting or ending with '-'"
    ),
    "microsoft.web/serverfarms": Rule(1, 60, r"[A-Za-z0-9-]+", "alphanumerics and hyphens"),
    "microsoft.managedidentity/userassignedidentities": Rule(
        3,
        128,
        r"[A-Za-z0-9][A-Za-z0-9_-]*",
        "alphanumerics, hyphens and underscores, starting with a letter or digit",
    ),
    "microsoft.operationalinsights/workspaces": Rule(
        4, 63, ALNUM_HYPHEN_INNER, "alphanumerics and hyphens, starting and ending alphanumeric"
    ),
    "microsoft.insights/components": Rule(
        1,
        260,
        r"[^%&\\?/\x00-\x1f]*[^%&\\?/\x00-\x1f .]",
        "free text without % & \\ ? / or control characters, not ending in a space or period",
    ),
    "microsoft.cognitiveservices/accounts": Rule(
        2, 64, ALNUM_HYPHEN_INNER, "alphanumerics and hyphens, starting and ending alphanumeric"
    ),
    "microsoft.cognitiveservices/accounts/deployments": Rule(
        2, 64, r"[A-Za-z0-9][A-Za-z0-9_.-]*", "alphanumerics, '_', '.' and '-'"
    ),
    "microsoft.durabletask/schedulers": Rule(3, 64, r"[A-Za-z0-9-]+", "alphanumerics and hyphens"),
    "microsoft.durabletask/schedulers/taskhubs": Rule(
        3, 64, r"[A-Za-z0-9-]+", "alphanumerics and hyphens"
    ),
    "microsoft.durabletask/schedulers/retentionpolicies": Rule(7, 7, "default", "'default'"),
    "microsoft.authorization/roleassignments": Rule(36, 36, GUID, "a GUID"),
    "microsoft.insights/workbooks": Rule(36, 36, GUID, "a GUID"),
    "microsoft.insights/diagnosticsettings": Rule(
        1, 260, r"[^*<>%:&?/\\+]+", "free text without * < > % : & ? / \\ +"
    ),
    "microsoft.resources/deployments": Rule(
        1, 64, r"[A-Za-z0-9_.()-]+", "alphanumerics, '_', '.', '-', '(' and ')'"
    ),
}

# Properties that become DNS names and follow a rule of their own.
CUSTOM_SUBDOMAIN = Rule(
    2, 64, ALNUM_HYPHEN_INNER, "alphanumerics and hyphens, starting and ending alphanumeric"
)
# host.json hubName with the Azure Storage provider: queue and table names are built from it.
AZURE_STORAGE_TASK_HUB = Rule(3, 45, r"[A-Za-z][A-Za-z0-9]*", "letters and digits, a letter first")

# Child resources whose names are fixed by the provider (no rule beyond the literal).
FIXED_NAMES = {
    "microsoft.web/sites/config",
    "microsoft.web/sites/basicpublishingcredentialspolicies",
    "microsoft.storage/storageaccounts/blobservices",
    "microsoft.storage/storageaccounts/queueservices",
    "microsoft.storage/storageaccounts/tableservices",
}


def violation(resource_type: str, name: str) -> str | None:
    """Why ``name`` breaks the rule of ``resource_type``; KeyError when there is no rule."""
    return RULES[resource_type.lower()].violation(name)
