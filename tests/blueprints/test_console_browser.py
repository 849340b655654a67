"""The console in headless chromium against the real app, the Durable test host, the emulator and
Azurite: an operator signs in, watches live calls, transfers one, hangs up another, and reads
finished calls. Skipped without chromium (failed when ``SWITCHBOARD_REQUIRE_CHROMIUM=1``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.sip import mask_number
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from tests.blueprints.calls import live_call, requests
from tests.blueprints.conftest import DEFAULT_CALLER
from tests.blueprints.console_browser import (
    ENTER,
    ESCAPE,
    ConsolePage,
    chromium,
    skip_or_fail_without_browser,
)
from tests.conftest import CallEnv

SALES = "tel:+14155550111"
KEY = "console-test-function-key"
HOSTILE = '<img src=x onerror="window.__pwned=1">Call me back <b>now</b>'


@pytest.fixture
def browser(caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    skip_or_fail_without_browser()
    for name in ("selenium", "urllib3"):  # every WebDriver round trip at DEBUG is noise here
        caplog.set_level(logging.WARNING, logger=name)
    with chromium() as driver:
        yield driver


@pytest.fixture
def agent_env(call_env: CallEnv) -> CallEnv:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        TRANSFER_TARGETS=f"sales={SALES},support=sip:help@pbx.example.com",
    )
    return call_env


def refers(emulator: Emulator, call_id: str) -> list[dict[str, Any]]:
    return requests(emulator.timeline(call_id), "refer")


async def test_console_transfers_one_live_call_and_hangs_up_another(
    browser: Any, agent_env: CallEnv, emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    first = await live_call(emulator, app_host, app_url)
    second = await live_call(emulator, app_host, app_url)
    page = ConsolePage(browser, app_url)
    await page.sign_in(KEY)
    assert await page.run(browser.execute_script, "return sessionStorage.length") == 1
    requested = await page.requests_sent()
    page_loads = [h for url, h in requested if url.endswith("/api/console")]
    data_calls = [h for url, h in requested if "/api/calls" in url or url.endswith("/api/agent")]
    assert page_loads
    assert all("x-functions-key" not in h for h in page_loads)
    assert data_calls
    assert all(h.get("x-functions-key") == KEY for h in data_calls)

    # The list loads: both calls, answered, the caller masked.
    live = await page.wait_for(
        lambda d: (
            len(d.find_elements("css selector", "#live-rows tr")) == 2
            and {r.text for r in d.find_elements("css selector", "#live-rows td.phase")}
            == {"active"}
        ),
        "two active live calls",
    )
    assert live
    rows = await page.rows("live-rows")
    assert {r["call_id"] for r in rows} == {first, second}
    assert {r["caller"] for r in rows} == {mask_number(DEFAULT_CALLER)}
    assert DEFAULT_CALLER is not None
    assert DEFAULT_CALLER not in await page.run(lambda: browser.page_source)

    # A live call: its phase; no turns until the orchestration's record has them (at the end).
    await page.click_in_row("live-rows", first, "Open")
    await page.wait_for(
        lambda d: d.find_element("id", "call-state").text == "Phase: active",
        "the open call's phase",
    )
    # The live transcript grows while the call is active (the monitor appends it every few s).
    await page.wait_for(
        lambda d: len(d.find_elements("css selector", "#transcript li")) >= 2, "live turns"
    )
    seen = len(await page.texts("#transcript li"))
    await page.wait_for(
        lambda d: len(d.find_elements("css selector", "#transcript li")) > seen, "more live turns"
    )
    assert await page.text("call-state") == "Phase: active"

    # A transfer asks first, with the focus on Cancel; Escape cancels and nothing is sent.
    await page.select("transfer-target", "sales")
    await page.click("transfer")
    await page.wait_for(
        lambda d: d.find_element("id", "confirm").get_attribute("open") is not None, "the dialog"
    )
    assert SALES in await page.text("confirm-text")
    assert await page.focused_id() == "confirm-cancel"
    await page.press(ESCAPE)
    await page.wait_for(
        lambda d: "cancelled" in d.find_element("id", "command-result").text, "the cancel"
    )
    assert await page.text("command-result") == "Transfer cancelled: nothing was sent."
    assert refers(emulator, first) == []

    # Confirmed: one REFER, to the department's target; the call ends transferred.
    await page.click("transfer")
    await page.confirm(True)
    await page.wait_for(
        lambda d: "requested" in d.find_element("id", "command-result").text, "transfer answer"
    )
    assert (await page.text("command-result")).startswith(f"Transfer to sales ({SALES}) requested")
    await emulator.wait_for_end(first, timeout=15)
    await page.wait_for(
        lambda d: d.find_element("id", "call-state").text == "Ended: transferred",
        "the transferred call shown as ended",
    )
    sent = refers(emulator, first)
    assert len(sent) == 1, sent
    assert SALES in str(sent[0])
    assert await page.texts("#transfers li") == [f"{SALES} — completed"]
    assert len(await page.texts("#transcript li")) >= 1  # the record's turns, once it has ended

    # The other call: a bad target is refused with the API's message, then a confirmed hang-up.
    await page.click_in_row("live-rows", second, "Open")
    await page.wait_for(
        lambda d: d.find_element("id", "call-state").text == "Phase: active",
        "the second call's phase",
    )
    await page.select("transfer-target", "__other__")
    await page.type_into("transfer-other", "tel:12")
    await page.click("transfer")
    await page.confirm(True)
    await page.wait_for(
        lambda d: "refused" in d.find_element("id", "command-result").text, "the 400 shown"
    )
    assert await page.text("command-result") == (
        "Transfer to tel:12 refused, the request is not valid: "
        "target_uri must be a tel: (E.164) or sip: URI"
    )
    await page.click("hangup")
    assert "will be ended now" in await page.confirm(True)
    await page.wait_for(
        lambda d: d.find_element("id", "call-state").text == "Ended: operator_hangup",
        "the hung-up call shown as ended",
    )
    assert (await emulator.wait_for_end(second, timeout=15))["reason"] == "hangup"
    assert refers(emulator, second) == []

    # Both are finished calls now, newest first, and the live list is empty.
    await page.wait_for(
        lambda d: (
            len(d.find_elements("css selector", "#ended-rows tr")) == 2
            and not d.find_elements("css selector", "#live-rows tr")
        ),
        "both calls listed as finished",
    )
    ended = await page.rows("ended-rows")
    assert [(r["call_id"], r["reason"]) for r in ended] == [
        (second, "operator_hangup"),
        (first, "transferred"),
    ]
    assert ended[1]["transfer"] == "completed"
    assert all(r["cost"].startswith("$") for r in ended)
    assert await page.text("live-status") == "No live calls."
    assert [m for m in await page.console_errors() if "Failed to load resource" not in m] == []


def stored_call(received: datetime, **fields: Any) -> dict[str, Any]:
    at = received.isoformat()
    ended = (received + timedelta(seconds=95)).isoformat()
    return {
        "call_id": f"rtc_console{received:%d%H%M}",
        "received_at": at,
        "accepted_at": at,
        "ended_at": ended,
        "caller": "+14155550123",
        "callee": "+18005550100",
        "decision": "accept",
        "decision_reason": "allowed",
        "end_reason": "agent_end_call",
        "transfers": [],
        "turns": [
            {
                "speaker": "agent",
                "text": "Hello, thanks for calling.",
                "at": at,
                "offset_seconds": 0.5,
            },
            {"speaker": "caller", "text": HOSTILE, "at": at, "offset_seconds": 4.0},
        ],
        "usage": {"input_tokens": 1200, "output_tokens": 300},
        "estimated_cost_usd": 0.0123,
        "errors": [],
        **fields,
    }


ANALYSIS = {
    "summary": "Ana Silva asked for a callback about order 4411.",
    "data": {"name": "Ana Silva", "order_number": "4411", "callback": "<script>x()</script>"},
    "success": True,
    "success_reason": "the reason and a callback number were taken",
    "follow_up": {"needed": True, "reason": "call back before noon"},
    "invalid": {"email": "not an email address"},
    "missing": ["email"],
    "model": "gpt-4.1-mini",
}


async def test_console_lists_filters_and_shows_a_finished_calls_record(
    browser: Any, emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    yesterday = now - timedelta(days=1)
    with_analysis = stored_call(now - timedelta(minutes=5), analysis=ANALYSIS)
    busy = stored_call(now - timedelta(minutes=9), caller="+442071234567", end_reason="busy")
    older = stored_call(yesterday, end_reason="caller_hangup")
    store = CallStore(await get_account())
    for record in (with_analysis, busy, older):
        await store.ended(record)

    page = ConsolePage(browser, app_url)
    await page.sign_in(KEY)
    await page.wait_for(
        lambda d: (
            len(d.find_elements("css selector", "#ended-rows tr")) == 3
            and d.find_element("css selector", "#ended-rows tr td.summary").text != "…"
        ),
        "three finished calls with their summaries",
    )
    rows = await page.rows("ended-rows")
    assert [r["call_id"] for r in rows] == [c["call_id"] for c in (with_analysis, busy, older)]
    assert [r["summary"] for r in rows] == [ANALYSIS["summary"], "—", "—"]
    assert rows[0]["duration"] == "1:35"
    assert rows[0]["cost"] == "$0.0123"
    assert rows[1]["caller"] == mask_number("+442071234567")

    async def filtered(what: str, count: int) -> list[dict[str, str]]:
        await page.click_text("button", "Apply")
        await page.wait_for(
            lambda d: d.find_element("id", "ended-status").text.startswith(f"{count} finished"),
            what,
        )
        return await page.rows("ended-rows")

    await page.run(
        browser.execute_script,
        "document.getElementById('filter-day').value = arguments[0]",
        f"{yesterday:%Y-%m-%d}",
    )
    assert [r["call_id"] for r in await filtered("yesterday", 1)] == [older["call_id"]]
    await page.click("filter-clear")
    await page.select("filter-reason", "busy")
    assert [r["call_id"] for r in await filtered("busy calls", 1)] == [busy["call_id"]]
    await page.select("filter-reason", "")
    await page.type_into("filter-caller", "+14155550123")
    expected = [with_analysis["call_id"], older["call_id"]]
    assert [r["call_id"] for r in await filtered("one caller's calls", 2)] == expected
    await page.type_into("filter-caller", "not a number")
    await page.click_text("button", "Apply")
    await page.wait_for(
        lambda d: "could not be loaded" in d.find_element("id", "ended-status").text,
        "the refused filter's message",
    )
    await page.click("filter-clear")

    # The record: summary, extracted data, follow-up, and caller text shown as text, never markup.
    await page.wait_for(
        lambda d: len(d.find_elements("css selector", "#ended-rows tr")) == 3, "the list again"
    )
    await page.click_in_row("ended-rows", with_analysis["call_id"], "View")
    await page.wait_for(
        lambda d: d.find_element("id", "analysis-summary").text == ANALYSIS["summary"], "summary"
    )
    assert await page.text("call-state") == "Ended: agent_end_call"
    assert await page.texts("#analysis-data dt") == ["name", "order_number", "callback"]
    assert await page.texts("#analysis-data dd") == ["Ana Silva", "4411", "<script>x()</script>"]
    facts = dict(
        zip(
            await page.texts("#analysis-facts dt"),
            await page.texts("#analysis-facts dd"),
            strict=True,
        )
    )
    assert facts["Follow-up"] == "needed — call back before noon"
    assert facts["Success"] == "yes — the reason and a callback number were taken"
    assert facts["Missing"] == "email"
    assert facts["Invalid"] == "email: not an email address"
    turns = await page.texts("#transcript li p")
    assert turns == ["Hello, thanks for calling.", HOSTILE]
    assert await page.run(browser.execute_script, "return window.__pwned === undefined")
    injected = "return document.querySelectorAll('#call-panel img, #call-panel script').length"
    assert await page.run(browser.execute_script, injected) == 0
    assert await page.text("call-controls") == ""  # no transfer or hang-up on a finished call

    # The key lives in this tab's sessionStorage: a reload keeps it, "Forget key" drops it.
    await page.run(browser.refresh)
    await page.wait_for(lambda d: d.find_element("id", "console").is_displayed(), "signed in")
    await page.click("forget-key")
    await page.wait_for(lambda d: d.find_element("id", "key-panel").is_displayed(), "signed out")
    assert await page.run(browser.execute_script, "return sessionStorage.length") == 0
    assert await page.focused_id() == "key-input"  # and from the keyboard alone, back in
    await page.press(KEY + ENTER)
    await page.wait_for(lambda d: d.find_element("id", "console").is_displayed(), "keyboard")
    assert [m for m in await page.console_errors() if "Failed to load resource" not in m] == []

    # The page's own CSP is in force: an inline script added to it is refused, and said so.
    inline = (
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
        "document.body.append(s); return window.__inline === undefined"
    )
    assert await page.run(browser.execute_script, inline)  # the page's CSP refuses inline script
    errors = await page.console_errors()
    assert len(errors) == 1
    assert "violates the following Content Security Policy directive" in errors[0]
