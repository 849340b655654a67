"""Debian's chromium driven by selenium, for the console's browser tests and its screenshots.

No browser is downloaded: the tests use ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``
(``apt-get install -y chromium chromium-driver``). Where they are missing the tests are skipped
with that command, unless ``SWITCHBOARD_REQUIRE_CHROMIUM=1`` (CI) turns the skip into a failure.

The app under test is served by the same event loop as the test, so every WebDriver command runs
in a worker thread (:meth:`ConsolePage.run`): a blocking call on the loop would stall the very
server the browser is waiting on.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path(os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SWITCHBOARD_CHROMEDRIVER", "/usr/bin/chromedriver"))
REQUIRE = "SWITCHBOARD_REQUIRE_CHROMIUM"
INSTALL_HELP = (
    "the console's browser tests need Debian's chromium and its driver "
    "(apt-get install -y chromium chromium-driver) and selenium (pip install -r "
    "requirements-dev.txt)"
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
LAPTOP = (1366, 900)
PHONE = (390, 844)
WAIT_SECONDS = 20.0
ENTER = "\ue007"
ESCAPE = "\ue00c"
"""Keys as WebDriver types them (selenium's ``Keys``, without importing selenium here)."""

T = TypeVar("T")


def missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {INSTALL_HELP}"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing: {INSTALL_HELP}"
    return None


def skip_or_fail_without_browser() -> None:
    """Skip the test (fail it when ``SWITCHBOARD_REQUIRE_CHROMIUM=1``) if chromium cannot run."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(size: tuple[int, int] = LAPTOP, *, phone: bool = False) -> Iterator[Any]:
    """A headless chromium with a fresh profile, quit and removed afterwards.

    ``size`` is the page's viewport exactly (CSS pixels); ``phone`` also makes it a mobile one
    (a window cannot be made narrower than 500 px, an emulated phone can).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="switchboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        metrics = {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": phone}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class ConsolePage:
    """The console in a browser, as an operator uses it: by labels, buttons and visible text."""

    def __init__(self, driver: Any, app_url: str) -> None:
        self.driver = driver
        self.url = f"{app_url}/api/console"

    async def run(self, action: Callable[..., T], *args: Any) -> T:
        """Run one blocking WebDriver action off the event loop."""
        return await asyncio.to_thread(action, *args)

    async def wait_for(
        self, condition: Callable[[Any], T], what: str, timeout: float = WAIT_SECONDS
    ) -> T:
        """Poll ``condition(driver)`` until it returns something truthy; fail naming ``what``."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.1,
            ignored_exceptions=[StaleElementReferenceException],
        )
        try:
            return await self.run(wait.until, condition)
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None

    async def sign_in(self, key: str) -> None:
        """Open the page and enter the function key."""
        await self.run(self.driver.get, self.url)
        await self.type_into("key-input", key)
        await self.click_text("button", "Open")
        await self.wait_for(lambda d: d.find_element("id", "console").is_displayed(), "console")

    async def type_into(self, element_id: str, text: str) -> None:
        def act() -> None:
            field = self.driver.find_element("id", element_id)
            field.clear()
            field.send_keys(text)

        await self.run(act)

    async def select(self, element_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        await self.run(
            lambda: Select(self.driver.find_element("id", element_id)).select_by_value(value)
        )

    async def click(self, element_id: str) -> None:
        await self.run(lambda: self.driver.find_element("id", element_id).click())

    async def click_text(self, tag: str, text: str) -> None:
        """Click the first visible ``tag`` whose text is ``text``."""

        def act() -> None:
            for element in self.driver.find_elements("tag name", tag):
                if element.is_displayed() and element.text.strip() == text:
                    element.click()
                    return
            raise AssertionError(f"no visible <{tag}> reading {text!r}")

        await self.run(act)

    async def click_in_row(self, table_body: str, call_id: str, text: str) -> None:
        """Click the button reading ``text`` in the row of ``call_id``."""

        def act() -> None:
            row = self.driver.find_element(
                "css selector", f"#{table_body} tr[data-call-id='{call_id}']"
            )
            row.find_element("xpath", f".//button[normalize-space()='{text}']").click()

        await self.run(act)

    async def text(self, element_id: str) -> str:
        return await self.run(lambda: str(self.driver.find_element("id", element_id).text))

    async def rows(self, table_body: str) -> list[dict[str, str]]:
        """The rows of a table body: call id and each cell's text by its class."""

        def read() -> list[dict[str, str]]:
            found = []
            for row in self.driver.find_elements("css selector", f"#{table_body} tr"):
                cells = {
                    str(cell.get_attribute("class")): str(cell.text)
                    for cell in row.find_elements("tag name", "td")
                    if cell.get_attribute("class")
                }
                found.append({"call_id": str(row.get_attribute("data-call-id")), **cells})
            return found

        return await self.run(read)

    async def texts(self, css: str) -> list[str]:
        return await self.run(
            lambda: [str(e.text) for e in self.driver.find_elements("css selector", css)]
        )

    async def press(self, key: str) -> None:
        """Type ``key`` (text, or :data:`ENTER` / :data:`ESCAPE`) into whatever has the focus."""
        await self.run(lambda: self.driver.switch_to.active_element.send_keys(key))

    async def focused_id(self) -> str:
        return await self.run(lambda: str(self.driver.switch_to.active_element.get_attribute("id")))

    async def confirm(self, answer: bool) -> str:
        """Answer the open confirm dialog; returns what it asked."""
        await self.wait_for(
            lambda d: d.find_element("id", "confirm").get_attribute("open") is not None,
            "the confirm dialog",
        )
        question = await self.text("confirm-text")
        await self.click("confirm-ok" if answer else "confirm-cancel")
        return question

    async def console_errors(self) -> list[str]:
        """Messages the page logged at SEVERE (script errors, CSP violations)."""
        entries = await self.run(self.driver.get_log, "browser")
        return [str(e["message"]) for e in entries if e.get("level") == "SEVERE"]

    async def requests_sent(self) -> list[tuple[str, dict[str, str]]]:
        """(URL, headers) of every request the page sent since the last read (DevTools log)."""
        entries = await self.run(self.driver.get_log, "performance")
        sent = []
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                request = message["params"]["request"]
                sent.append((str(request["url"]), dict(request["headers"])))
        return sent

    async def screenshot(self, path: Path) -> None:
        await self.run(self.driver.save_screenshot, str(path))
