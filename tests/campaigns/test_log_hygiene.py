"""Log hygiene: full calls end to end with every logger at DEBUG, then grep every record.

No record (formatted message, raw message, arguments, exception text) may carry the webhook
secret, the API key, a bearer token, a caller's number in full, or what was said. Masked numbers
are fine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re

import pytest

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from emulator.scenario import load_scenario
from switchboard.untrusted import shown
from tests.support.logs import leaks, record_text, secrets

RECORD_TIMEOUT = 20.0
CALLERS = {
    # scenario: (From header, extra headers); each caller has a number of their own
    "greeting": ('"Alice" <sip:+14155550123@carrier.example>;tag=a', ()),
    "transfer": ("<sip:+447700900456@carrier.example>;tag=b", ()),
    "end_call": (
        "<sip:anonymous@anonymous.invalid>;tag=c",
        (("P-Asserted-Identity", "<tel:+46701234789>"),),
    ),
    "hangup_while_ringing": ("<tel:+61491570157>;tag=d", ()),
}
TRANSCRIPT = ("what are your opening hours", "open from nine to five")
"""Lines the greeting scenario's caller and model speak: transcripts are not logged either."""
NUMBERS = ("+14155550123", "+447700900456", "+46701234789", "+61491570157")


async def test_no_secret_token_caller_number_or_transcript_is_ever_logged(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    call_ids = []
    for scenario, (from_header, extra) in CALLERS.items():
        base = load_scenario(scenario)
        caller = dataclasses.replace(base.caller, from_header=from_header, extra_headers=extra)
        call_ids.append(
            await emulator.place_call(
                dataclasses.replace(base, caller=caller),
                webhook_url=f"{app_url}/api/calls/incoming",
            )
        )
    async with asyncio.timeout(RECORD_TIMEOUT):
        for call_id in call_ids:
            await app_host.wait_until(functools.partial(app_host.instances.__contains__, call_id))
            view = await app_host.wait_for_completion(call_id, RECORD_TIMEOUT)
            assert view.runtime_status.value == "Completed"
            await emulator.wait_for_end(call_id, RECORD_TIMEOUT)

    texts = [(record.name, record_text(record)) for record in caplog.records]
    assert len(texts) > 50, "too few records: is DEBUG logging really captured?"
    assert any(
        r.name.startswith(("switchboard", "activities", "blueprints")) for r in caplog.records
    )
    assert any(re.search(r"\+\d\*+\d\d", text) for _, text in texts), "no masked number logged"
    forbidden = [
        *secrets(),
        *NUMBERS,
        *(n.removeprefix("+") for n in NUMBERS),
        *TRANSCRIPT,
        "Bearer ",
    ]
    assert leaks(caplog.records, forbidden) == []


@pytest.mark.parametrize(
    "value", ["rtc_a\r\nINFO blueprints.ingress forged", "rtc_\x1b[2J", "rtc_a\x00", "a\u2028b"]
)
def test_the_per_test_log_check_fails_on_a_control_character_in_an_app_log_line(
    value: str,
) -> None:
    """What every end-to-end test runs on its app logs: untrusted text written raw is a leak."""
    raw = logging.LogRecord(
        "blueprints.ingress", logging.INFO, __file__, 1, "call %s", (value,), None
    )
    assert [(name, what) for name, what, _ in leaks([raw], [])] == [
        ("blueprints.ingress", "control character")
    ]
    quoted = logging.LogRecord(
        "blueprints.ingress", logging.INFO, __file__, 1, "call %s", (shown(value),), None
    )
    sdk = logging.LogRecord("aiohttp.access", logging.INFO, __file__, 1, "a\nb", (), None)
    assert leaks([quoted, sdk], []) == []
