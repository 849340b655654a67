"""Every end-to-end call test also checks the app's logs: no secret, token or caller number."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from emulator.scenario import Caller
from switchboard.sip import parse_party
from tests.support.logs import APP_LOGGERS, leaks, secrets

DEFAULT_CALLER = parse_party(Caller().from_header).number


@pytest.fixture(autouse=True)
def app_logs_stay_clean(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if an app logger wrote a secret, a bearer token or the caller's number."""
    caplog.set_level(logging.DEBUG)
    yield
    assert DEFAULT_CALLER is not None
    during = caplog.get_records("setup") + caplog.get_records("call")
    app_records = [r for r in during if r.name.startswith(APP_LOGGERS)]
    forbidden = [*secrets(), DEFAULT_CALLER, DEFAULT_CALLER.removeprefix("+"), "Bearer "]
    assert leaks(app_records, forbidden) == []
