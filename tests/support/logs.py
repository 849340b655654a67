"""What must never be logged, and the text a log record could be written as."""

from __future__ import annotations

import base64
import logging

from emulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET

_FORMATTER = logging.Formatter("%(name)s %(levelname)s %(message)s")
APP_LOGGERS = ("switchboard", "activities", "blueprints", "function_app")


def secrets() -> list[str]:
    """The local secrets as they could appear in text (the signing key raw and decoded too)."""
    key = DEFAULT_WEBHOOK_SECRET.removeprefix("whsec_")
    return [DEFAULT_WEBHOOK_SECRET, key, base64.b64decode(key).decode(), DEFAULT_API_KEY]


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``."""
    return "\n".join([_FORMATTER.format(record), str(record.msg), repr(record.args)])


def leaks(records: list[logging.LogRecord], forbidden: list[str]) -> list[tuple[str, str, str]]:
    """(logger, what leaked, text) for every record that carries a forbidden string, and for
    every app log line with a control character (untrusted text written raw: a forged line)."""
    found = [
        (record.name, what, text)
        for record in records
        for text in (record_text(record),)
        for what in forbidden
        if what.lower() in text.lower()
    ]
    return found + [
        (record.name, "control character", message)
        for record in records
        if record.name.startswith(APP_LOGGERS)
        for message in (record.getMessage(),)
        if not message.isprintable()
    ]
