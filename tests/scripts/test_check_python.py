"""The supported Python versions: one range in pyproject.toml, checked where a command starts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import check_python

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT_TEXT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads(PYPROJECT_TEXT)
HERE = (sys.version_info.major, sys.version_info.minor)


def test_the_range_is_3_11_and_3_12() -> None:
    assert check_python.supported_range(PYPROJECT_TEXT) == ((3, 11), (3, 13))
    assert check_python.problem((3, 11), PYPROJECT_TEXT) is None
    assert check_python.problem((3, 12), PYPROJECT_TEXT) is None
    assert check_python.problem((3, 10), PYPROJECT_TEXT) == (
        "Switchboard needs Python 3.11 or 3.12 (pyproject.toml requires-python), not 3.10"
    )
    assert check_python.problem((3, 13), PYPROJECT_TEXT) is not None


def test_the_tools_target_the_lowest_supported_version() -> None:
    lowest, _ = check_python.supported_range(PYPROJECT_TEXT)
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{lowest[0]}{lowest[1]}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == f"{lowest[0]}.{lowest[1]}"


def test_the_deployed_version_is_supported() -> None:
    bicep = (ROOT / "infra/modules/functionapp.bicep").read_text(encoding="utf-8")
    runtime = re.search(r"name: 'python'\s+version: '(\d+)\.(\d+)'", bicep)
    assert runtime is not None
    assert check_python.problem((int(runtime[1]), int(runtime[2])), PYPROJECT_TEXT) is None


@pytest.mark.parametrize(
    "package", ["azure-functions", "azure-functions-durable", "openai", "aiohttp", "pydantic"]
)
def test_every_supported_version_is_allowed_by_the_runtime_packages(package: str) -> None:
    lowest, first_unsupported = check_python.supported_range(PYPROJECT_TEXT)
    allowed = SpecifierSet(metadata(package)["Requires-Python"] or "")
    for minor in range(lowest[1], first_unsupported[1]):
        assert f"{lowest[0]}.{minor}.0" in allowed, (package, minor, str(allowed))


def test_the_readme_names_the_same_versions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Python 3.11 or 3.12" in readme
    assert "Python 3.10" not in readme


def test_a_venv_of_another_version_than_python_is_refused() -> None:
    other = (3, 12) if HERE == (3, 11) else (3, 11)  # supported, and not this Python
    message = check_python.check(["--venv", sys.executable], other, PYPROJECT_TEXT)
    assert message == (
        f"PYTHON={sys.executable} is Python {HERE[0]}.{HERE[1]} but the existing .venv is "
        f"{other[0]}.{other[1]}: remove .venv to rebuild it with {sys.executable}."
    )
    assert check_python.check(["--venv", sys.executable], HERE, PYPROJECT_TEXT) is None
    assert check_python.check(["--venv", ""], HERE, PYPROJECT_TEXT) is None
    assert "Remove .venv" in (check_python.check(["--venv"], (3, 13), PYPROJECT_TEXT) or "")


def test_the_test_command_refuses_a_venv_that_does_not_match_python(tmp_path: Path) -> None:
    """scripts/test stops before installing anything when .venv and PYTHON disagree."""
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/test", "scripts/check_python.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".venv/bin").mkdir(parents=True)
    (tmp_path / ".venv/bin/python").symlink_to(sys.executable)
    fake = tmp_path / "python3.99"
    fake.write_text("#!/bin/sh\necho 3 99\n", encoding="utf-8")
    fake.chmod(0o755)
    result = subprocess.run(  # noqa: S603
        [str(tmp_path / "scripts/test")],
        env={**os.environ, "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"PYTHON={fake} is Python 3.99 but the existing .venv is {HERE[0]}.{HERE[1]}" in (
        result.stderr
    )
    assert "== ruff" not in result.stdout
