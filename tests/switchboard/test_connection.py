import asyncio
import gc
from urllib.parse import parse_qs, urlsplit

from switchboard.connection import (
    GC_YOUNG_THRESHOLD,
    Connection,
    close_connection,
    get_connection,
    tune_gc_for_calls,
)
from switchboard.settings import Settings

ENV = {
    "AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
    "OPENAI_WEBHOOK_SECRET": "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0",
    "AZURE_OPENAI_API_KEY": "unused-here",
}


def test_the_collector_is_tuned_once_for_many_calls() -> None:
    tune_gc_for_calls()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    tune_gc_for_calls()  # once per process: a second call freezes nothing more
    assert gc.get_freeze_count() <= frozen


def test_the_call_websocket_url_encodes_the_call_id() -> None:
    settings = Settings.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com",
            "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
            "OPENAI_WEBHOOK_SECRET": "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0",
            "AZURE_OPENAI_API_KEY": "unused-here",
        }
    )
    url = Connection(settings).realtime_url("rtc_x&model=evil&call_id=rtc_victim")
    base = "wss://contoso.openai.azure.com/openai/v1/realtime"
    assert url == f"{base}?call_id=rtc_x%26model%3Devil%26call_id%3Drtc_victim"
    assert parse_qs(urlsplit(url).query) == {"call_id": ["rtc_x&model=evil&call_id=rtc_victim"]}
    assert Connection(settings).realtime_url("rtc_abc") == f"{base}?call_id=rtc_abc"


async def test_one_connection_per_loop_and_a_new_one_when_the_settings_change() -> None:
    first = Settings.from_env(ENV)
    connection = get_connection(first)
    session = connection.http
    assert get_connection(Settings.from_env(ENV)) is connection  # equal settings: the same one
    changed = Settings.from_env(
        {**ENV, "AZURE_OPENAI_ENDPOINT": "https://fabrikam.openai.azure.com"}
    )
    replaced = get_connection(changed)
    assert replaced is not connection
    assert replaced.realtime_url("rtc_a").startswith("wss://fabrikam.openai.azure.com/")
    await asyncio.sleep(0.05)  # the old one is closed in the background
    assert session.closed
    await close_connection()
