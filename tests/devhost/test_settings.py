"""local.settings.json read as Core Tools reads it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from devhost.settings import LocalSettings, LocalSettingsError, apply_local_settings


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps(document))
    return path


def test_values_become_environment_variables_and_set_ones_win(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, {"IsEncrypted": False, "Values": {"A": "from file", "B": "from file"}})
    environ = {"B": "from environment"}
    with caplog.at_level(logging.WARNING):
        apply_local_settings(path, environ)
    assert environ == {"A": "from file", "B": "from environment"}
    assert caplog.messages == [
        "Skipping 'B' from local settings as it's already defined in current environment variables."
    ]


def test_the_port_comes_from_host_local_http_port(tmp_path: Path) -> None:
    path = write(tmp_path, {"Values": {}, "Host": {"LocalHttpPort": 7072}})
    assert LocalSettings.read(path).port == 7072
    assert LocalSettings.read(tmp_path / "missing.json") == LocalSettings()


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"IsEncrypted": True, "Values": {}}, "is encrypted"),
        ({"Values": {"MAX_CONCURRENT_CALLS": 5}}, "not a string: MAX_CONCURRENT_CALLS"),
        ({"Values": ["A"]}, "'Values' must be an object"),
        ({"Values": {}, "Host": {"LocalHttpPort": "7071"}}, "must be a port number"),
        (["Values"], "must hold a JSON object"),
    ],
)
def test_unusable_files_are_refused_saying_why(tmp_path: Path, document: object, says: str) -> None:
    with pytest.raises(LocalSettingsError, match=says):
        LocalSettings.read(write(tmp_path, document))


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text("{'Values': {}}")
    with pytest.raises(LocalSettingsError, match="is not valid JSON"):
        LocalSettings.read(path)
