"""``local.settings.json`` read the way Core Tools reads it for ``func start``.

``Values`` become environment variables of the process that runs the app, except a name already in
the environment, which wins (Core Tools says "Skipping '<name>' from local settings as it's already
defined in current environment variables"). ``Host.LocalHttpPort`` is the default port. An
encrypted file (``IsEncrypted: true``) cannot be read without Core Tools' machine key: refused.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_SETTINGS_BYTES = 1024 * 1024


class LocalSettingsError(ValueError):
    """The settings file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class LocalSettings:
    """What ``func start`` takes from ``local.settings.json``."""

    values: dict[str, str] = field(default_factory=dict)
    port: int | None = None

    @classmethod
    def read(cls, path: Path) -> LocalSettings:
        """Parse ``path``; a missing file is empty settings (Core Tools warns and runs)."""
        if not path.is_file():
            return cls()
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise LocalSettingsError(f"{path} is larger than {MAX_SETTINGS_BYTES} bytes")
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LocalSettingsError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise LocalSettingsError(f"{path} must hold a JSON object")
        if document.get("IsEncrypted") is True:
            raise LocalSettingsError(
                f"{path} is encrypted (IsEncrypted: true); run 'func settings decrypt' or "
                "write it again from local.settings.json.example"
            )
        return cls(_values(path, document.get("Values", {})), _port(path, document.get("Host")))

    def apply(self, environ: MutableMapping[str, str]) -> list[str]:
        """Set every value not already in ``environ``; return the names skipped."""
        skipped = []
        for name, value in self.values.items():
            if environ.get(name):
                skipped.append(name)
            else:
                environ[name] = value
        return skipped


def _values(path: Path, values: Any) -> dict[str, str]:
    if not isinstance(values, dict):
        raise LocalSettingsError(f"{path}: 'Values' must be an object of names to strings")
    wrong = sorted(name for name, value in values.items() if not isinstance(value, str))
    if wrong:
        raise LocalSettingsError(
            f"{path}: every value in 'Values' must be a string (app settings are text); "
            f"not a string: {', '.join(wrong)}"
        )
    return dict(values)


def _port(path: Path, host: Any) -> int | None:
    if host is None:
        return None
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise LocalSettingsError(f"{path}: Host.LocalHttpPort must be a port number, got {port!r}")
    return port


def apply_local_settings(
    path: Path, environ: MutableMapping[str, str] = os.environ
) -> LocalSettings:
    """Read ``path`` and apply its values to ``environ``; report skipped names like Core Tools."""
    settings = LocalSettings.read(path)
    for name in settings.apply(environ):
        logger.warning(
            "Skipping '%s' from local settings as it's already defined in current "
            "environment variables.",
            name,
        )
    return settings
