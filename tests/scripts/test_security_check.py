"""scripts/security-check's audit: it passes only when every package was audited and is clean.

The real pip-audit runs against a fake OSV service on loopback (PIP_AUDIT_OSV_URL), on the real
requirements.txt; the one case pip-audit cannot be made to produce offline (PyPI's service not
knowing any package, as happens without access to it) replays pip-audit's own output.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"
LOCKED = [
    Requirement(line.rstrip(" \\"))
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    if line[:1].isalnum()
]
PINNED = sum(1 for r in LOCKED if r.marker is None or r.marker.evaluate())
"""Packages of the lock that this Python installs, so the ones pip-audit looks up."""


def _layout(tmp_path: Path, pip_audit: Path) -> Path:
    """A copy of the script beside the real requirements.txt, with .venv's tools linked in."""
    (tmp_path / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts/security-check", tmp_path / "scripts/security-check")
    shutil.copy2(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    (tmp_path / ".venv/bin").mkdir(parents=True)
    (tmp_path / ".venv/bin/python").symlink_to(sys.executable)
    (tmp_path / ".venv/bin/pip-audit").symlink_to(pip_audit)
    return tmp_path / "scripts/security-check"


async def _run(script: Path, **env: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(script),
        "pip-audit",
        env={**os.environ, "PIP_AUDIT_SERVICE": "osv", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.fixture
async def osv() -> AsyncIterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """A fake OSV query endpoint; the dict maps package names to the vulnerabilities it reports."""
    known: dict[str, list[dict[str, Any]]] = {}

    async def query(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        vulns = known.get(body["package"]["name"])
        return web.json_response({"vulns": vulns} if vulns else {})

    app = web.Application()
    app.router.add_post("/v1/query", query)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/v1/query", known
    await runner.cleanup()


async def test_clean_packages_pass(
    tmp_path: Path, osv: tuple[str, dict[str, list[dict[str, Any]]]]
) -> None:
    code, out = await _run(_layout(tmp_path, PIP_AUDIT), PIP_AUDIT_OSV_URL=osv[0])
    assert f"   {PINNED} packages audited, 0 not audited, 0 vulnerable" in out, out
    assert code == 0


async def test_a_vulnerable_package_fails_and_is_named(
    tmp_path: Path, osv: tuple[str, dict[str, list[dict[str, Any]]]]
) -> None:
    url, known = osv
    known["aiohttp"] = [
        {
            "id": "GHSA-test-0001",
            "summary": "a test advisory",
            "affected": [
                {
                    "package": {"name": "aiohttp", "ecosystem": "PyPI"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}
                    ],
                }
            ],
        }
    ]
    code, out = await _run(_layout(tmp_path, PIP_AUDIT), PIP_AUDIT_OSV_URL=url)
    assert code == 1
    assert "GHSA-test-0001 (fixed in: 99.0)" in out
    assert f"{PINNED} packages audited, 0 not audited, 1 vulnerable" in out


async def test_an_unreachable_service_fails_as_not_audited(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1/query"
    code, out = await _run(_layout(tmp_path, PIP_AUDIT), PIP_AUDIT_OSV_URL=url)
    assert code == 1
    assert "NOT audited: pip-audit could not run" in out


async def test_a_service_that_knows_no_package_fails_as_not_audited(tmp_path: Path) -> None:
    """What pip-audit printed here without access to PyPI's service: every package skipped."""
    report = {
        "dependencies": [
            {
                "name": name,
                "skip_reason": f"Dependency not found on PyPI and could not be audited: {name}",
            }
            for name in ("aiohttp", "openai", "pydantic")
        ],
        "fixes": [],
    }
    fake = tmp_path / "fake-pip-audit"
    fake.write_text(
        f"#!/bin/sh\ncat <<'JSON'\n{json.dumps(report)}\nJSON\n"
        "echo 'No known vulnerabilities found' >&2\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    code, out = await _run(_layout(tmp_path / "repo", fake), PIP_AUDIT_SERVICE="pypi")
    assert code == 1
    assert "NOT audited: none of the 3 packages could be audited" in out
    assert "0 packages audited, 3 not audited, 0 vulnerable" in out
    assert "No known vulnerabilities" not in out


async def test_skipping_the_audit_says_nothing_was_audited(tmp_path: Path) -> None:
    code, out = await _run(_layout(tmp_path, PIP_AUDIT), PIP_AUDIT="skip")
    assert (code, out.strip()) == (
        0,
        "== pip-audit: skipped (PIP_AUDIT=skip): the dependencies were NOT audited",
    )
