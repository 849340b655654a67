"""Pictures of the operator console for the README: a live call, a finished call, a phone.

Everything shown is real: calls placed through the emulator run through the real app (the
Durable test host and its HTTP front), are kept in an in-memory Azurite, and the console reads
them through the operator API in Debian's headless chromium, as the browser tests do. Two
scripted conversations finish first (a question then a transfer to sales, a question then a
goodbye); two long calls stay live while the pictures are taken.

    python -m bench.screenshots [--out docs]

Needs Azurite (``npm ci --ignore-scripts``) and chromium (``apt-get install -y chromium
chromium-driver``).
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from bench._common import use_emulator_settings
from devhost.durable_host import DurableTestHost, indexed_functions
from devhost.http_front import HttpFront
from emulator import Emulator, EmulatorConfig, parse_scenario
from switchboard.connection import close_connection
from switchboard.store.account import close_account
from tests.blueprints.console_browser import LAPTOP, PHONE, ConsolePage, chromium, missing

CALL_TIMEOUT_SECONDS = 30.0


def _caller(name: str, number: str) -> dict[str, str]:
    return {"from": f'"{name}" <sip:{number}@carrier.example>;tag=shot'}


def _say(text: str, reply: str, **more: Any) -> dict[str, Any]:
    return {"action": "say", "text": text, "reply": reply, **more}


GREETED = {"action": "wait_for", "until": "response_done"}
FINISHED: dict[str, dict[str, Any]] = {
    "quote": {
        "caller": _caller("Dana", "+14155550187"),
        "refer": {"delay_seconds": 0.2},
        "steps": [
            GREETED,
            _say("Hi, are you open on Saturdays?", "We're open nine to five, Monday to Friday."),
            {"action": "wait", "seconds": 1.0},
            _say(
                "OK. I'd like a quote for twenty standing desks.",
                "Happy to help. Let me put you through to our sales team.",
                tool="transfer_call",
                arguments={"department": "sales"},
                next_reply="Transferring you now. Please hold.",
            ),
            {"action": "wait_for", "until": "tool_output"},
            {"action": "wait_for", "until": "refer"},
        ],
    },
    "hours": {
        "caller": _caller("Sam", "+447700900321"),
        "steps": [
            GREETED,
            _say("Where is your office?", "We're at 1 Main Street, open nine to five."),
            {"action": "wait", "seconds": 1.0},
            _say(
                "That's all I needed, thanks. Bye!",
                "Thank you for calling Contoso. Goodbye!",
                tool="end_call",
                arguments={"reason": "caller_done"},
            ),
            {"action": "wait_for", "until": "tool_output"},
        ],
    },
}
# Like the long_call scenario: a question every few seconds for about a minute.
LIVE: dict[str, Any] = {
    "caller": _caller("Robin", "+14155550142"),
    "steps": [
        GREETED,
        {
            "action": "repeat",
            "times": 20,
            "steps": [
                _say(
                    "Can you tell me a bit more about your delivery options?",
                    "Certainly. We deliver within five working days.",
                ),
                {"action": "wait", "seconds": 3.0},
            ],
        },
        {"action": "hangup"},
    ],
}


async def take(out: Path) -> list[Path]:
    """Run the calls, take the pictures, return their paths."""
    import function_app

    functions = indexed_functions(function_app.app)
    async with Emulator(EmulatorConfig(ring_timeout_seconds=30.0)) as emulator:
        use_emulator_settings(
            emulator.base_url,
            store=True,
            AGENT_DEFINITION="agents/front_desk.toml",
            TRANSFER_TARGETS="sales=tel:+14155550111,support=sip:help@pbx.example.com",
            CALL_STORE_CALLER_KEY="screenshots-caller-index-key-0123456789",
        )
        host = DurableTestHost(functions)
        async with host, HttpFront(host, functions) as front:
            webhook = f"{front.base_url}/api/calls/incoming"
            finished = []
            for name, script in FINISHED.items():
                call_id = await emulator.place_call(
                    parse_scenario(name, script), webhook_url=webhook, time_scale=1.0
                )
                await host.wait_until(partial(_started, host, call_id), what="start")
                await host.wait_for_completion(call_id, timeout=CALL_TIMEOUT_SECONDS)
                finished.append(call_id)
            live = [
                await emulator.place_call(
                    parse_scenario("live", LIVE), webhook_url=webhook, time_scale=1.0
                )
                for _ in range(2)
            ]
            for call_id in live:
                await host.wait_until(
                    partial(_answered, host, call_id),
                    timeout=CALL_TIMEOUT_SECONDS,
                    what="a live call answered",
                )
            paths = await _pictures(front.base_url, live[0], finished[0], out)
        await close_connection()
        await close_account()
    return paths


def _started(host: DurableTestHost, call_id: str) -> bool:
    return call_id in host.instances


def _answered(host: DurableTestHost, call_id: str) -> bool:
    view = host.instances.get(call_id)
    return view is not None and view.custom_status == {"phase": "active"}


async def _pictures(app_url: str, live_call: str, ended_call: str, out: Path) -> list[Path]:
    paths = [out / "console-live.png", out / "console-ended.png", out / "console-phone.png"]
    with chromium(LAPTOP) as driver:
        page = ConsolePage(driver, app_url)
        await page.sign_in("screenshots")
        await page.wait_for(
            lambda d: (
                len(d.find_elements("css selector", "#live-rows tr")) == 2
                and len(d.find_elements("css selector", "#ended-rows tr")) == 2
            ),
            "two live and two finished calls",
        )
        await page.click_in_row("live-rows", live_call, "Open")
        await page.wait_for(
            lambda d: d.find_element("id", "call-state").text == "Phase: active", "live call"
        )
        await page.select("transfer-target", "sales")
        await asyncio.sleep(2.5)  # the durations tick past 0:00
        await page.screenshot(paths[0])
        await page.click_in_row("ended-rows", ended_call, "View")
        await page.wait_for(
            lambda d: d.find_element("id", "call-state").text == "Ended: transferred", "record"
        )
        await page.screenshot(paths[1])
    with chromium(PHONE, phone=True) as driver:
        page = ConsolePage(driver, app_url)
        await page.sign_in("screenshots")
        await page.wait_for(
            lambda d: len(d.find_elements("css selector", "#live-rows tr")) == 2, "live calls"
        )
        await page.click_in_row("live-rows", live_call, "Open")
        await page.wait_for(
            lambda d: d.find_element("id", "call-state").text == "Phase: active", "live call"
        )
        await page.run(
            driver.execute_script, "document.getElementById('call-panel').scrollIntoView()"
        )
        await page.screenshot(paths[2])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go")
    args = parser.parse_args()
    reason = missing()
    if reason is not None:
        raise SystemExit(reason)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(take(args.out)):
        print(path)


if __name__ == "__main__":
    main()
