"""The deploy files around the Bicep: syntax the scanners can read, skip reasons, parameters,
azure.yaml, .funcignore, and the app-settings contract with switchboard/settings.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.test_bicep_security import (
    BICEP_FILES,
    FORBIDDEN_SETTINGS,
    INFRA,
    SECRET_NAME,
    parsed,
    the_settings,
)

ROOT = INFRA.parent

# Newer Bicep syntax that checkov's pinned parser (pycep 0.5.1) rejects or misreads, and registry
# modules it cannot open (their resources would go unscanned).
UNSUPPORTED_SYNTAX = {
    "user-defined function": re.compile(r"^\s*func\s", re.M),
    "import": re.compile(r"^\s*import\s", re.M),
    "spread": re.compile(r"\.\.\.[A-Za-z(\[{]"),
    "nullable type": re.compile(r"^\s*param\s+\w+\s+\w+\?", re.M),
    "@export()": re.compile(r"@export\("),
    "deployer()": re.compile(r"\bdeployer\(\)"),
    "safe dereference": re.compile(r"\.\?"),
    "registry module": re.compile(r"^\s*module\s+\w+\s+'(br[:/]|ts[:/])", re.M),
}
MAX_COMMENT_RUN = 9  # pycep 0.5.1 fails on 10 consecutive comment lines inside a block


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_keeps_to_syntax_checkov_parses(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [name for name, pattern in UNSUPPORTED_SYNTAX.items() if pattern.search(text)]
    assert found == [], f"{path.name} uses {found}"
    run = longest = 0
    for line in text.splitlines():
        run = run + 1 if line.strip().startswith("//") else 0
        longest = max(longest, run)
    assert longest <= MAX_COMMENT_RUN, f"{path.name}: {longest} comment lines in a row"


def test_syntax_guard_catches_registry_modules_and_new_syntax() -> None:
    bad = (
        "module m 'br/public:avm/res/web/site:0.15.1' = {\n}\nparam p string?\nfunc f() int => 1\n"
    )
    found = {name for name, pattern in UNSUPPORTED_SYNTAX.items() if pattern.search(bad)}
    assert found == {"registry module", "nullable type", "user-defined function"}


def test_every_checkov_skip_has_a_reason() -> None:
    skips = []
    for path in BICEP_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" in line:
                skips.append(line)
                match = re.search(r"checkov:skip=(CKV2?_AZURE_\d+):\s*(.+)$", line)
                assert match, f"{path.name}: malformed skip {line.strip()!r}"
                assert len(match.group(2)) >= 40, f"{path.name}: reason too thin: {line.strip()}"
    assert skips, "expected the documented skips (storage/Key Vault network, site exposure)"


def test_check_script_is_executable_and_pinned() -> None:
    check = INFRA / "check"
    assert os.access(check, os.X_OK)
    text = check.read_text(encoding="utf-8")
    assert re.search(r'CHECKOV_VERSION="\d+\.\d+\.\d+"', text)
    assert "--skip-download" in text
    assert "parsing_errors" in text


def test_parameters_file_names_real_parameters_and_no_secret() -> None:
    data = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    declared = parsed(INFRA / "main.bicep")["parameters"]
    values = data["parameters"]
    assert set(values) <= set(declared), set(values) - set(declared)
    for name, param in declared.items():
        assert param.get("default") is not None or name in values, f"{name} needs a value"
    extra = values.get("extraAppSettings", {}).get("value", {})
    for key in extra:
        assert key not in FORBIDDEN_SETTINGS
        assert not SECRET_NAME.search(key), f"{key}: secrets go through Key Vault references"
    # azd fills this in; a manual deployment overrides it (docs/deploy.md).
    assert values["operatorPrincipalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


# Where the app reads settings: the loader, the call store's account and the call events.
SETTINGS_READERS = (
    "switchboard/settings.py",
    "switchboard/store/account.py",
    "switchboard/events.py",
)
SET_BY_THE_PLATFORM = {"WEBSITE_HOSTNAME"}


def test_every_setting_the_app_reads_is_set_by_the_bicep() -> None:
    read: set[str] = set()
    for path in SETTINGS_READERS:
        source = (ROOT / path).read_text(encoding="utf-8")
        found = set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', source))
        assert found, f"{path} no longer names its variables like this"
        read |= found
    assert {"AZURE_OPENAI_ENDPOINT", "CALL_STORE_CALLER_KEY", "CALL_EVENTS_URL"} <= read
    missing = read - set(the_settings()) - {"AZURE_OPENAI_API_KEY"} - SET_BY_THE_PLATFORM
    assert missing == set(), (
        f"the app reads {sorted(missing)} but infra does not set them: add a parameter in "
        "infra/main.bicep + infra/modules/functionapp.bicep"
    )


def test_azure_yaml_deploys_the_function_app_and_registers_the_webhook() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^services:\s*\n\s+api:\s*$", text, re.M)
    for line in ("project: .", "language: python", "host: function"):
        assert line in text
    assert re.search(r"^\s+postprovision:", text, re.M)
    assert text.count("scripts/register_webhook.py") >= 2  # posix + windows
    assert re.search(r"^\s+path: infra\s*$", text, re.M)
    assert re.search(r"^    remoteBuild: true\s*$", text, re.M)


FUNCIGNORE_OUT = ["tests/", "emulator/", "bench/", "infra/", "docs/", "scripts/", ".venv*",
                  "node_modules/", "local.settings.json", ".git*", ".ci/", "/*.md"]  # fmt: skip
RUNTIME = ["function_app.py", "host.json", "requirements.txt", "switchboard/x.py",
           "activities/x.py", "blueprints/x.py", "agents/a.yaml", "agents/a.md",
           "console/index.html", "console/console.js", "console/console.css"]  # fmt: skip


def _ignored(patterns: list[str], path: str) -> bool:
    """Enough of .gitignore semantics for this file: anchoring, dir/, globs, last match wins."""
    verdict = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        body = pattern.rstrip("/")
        anchored = "/" in body  # a slash at the start or in the middle anchors to the root
        regex = re.escape(body.lstrip("/")).replace(r"\*", "[^/]*")
        if re.match(rf"^{'' if anchored else '(.*/)?'}{regex}(/.*)?$", path):
            verdict = not negate
    return verdict


def test_funcignore_keeps_tests_and_local_files_out_and_the_app_in() -> None:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for pattern in FUNCIGNORE_OUT:
        assert pattern in patterns, pattern
    for path in ("tests/test_x.py", "emulator/server.py", ".venv/bin/python",
                 ".venv-checkov/bin/checkov", "local.settings.json", "README.md",
                 "docs/deploy.md", ".git/config", "infra/main.bicep",
                 "devhost/server.py"):  # fmt: skip
        assert _ignored(patterns, path), f"{path} would be deployed"
    for path in RUNTIME:
        assert not _ignored(patterns, path), f"{path} would be left out of the package"


# What the deployed package must be: the app and nothing a developer or CI uses.
PACKAGE_ROOTS = {"function_app.py", "host.json", "requirements.txt", "switchboard", "activities",
                 "blueprints", "agents", "console"}  # fmt: skip


def package_files(patterns: list[str], files: list[str]) -> set[str]:
    """The files `func azure functionapp publish` would upload: tracked files minus .funcignore."""
    return {path for path in files if not _ignored(patterns, path)}


def _funcignore() -> list[str]:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_package_is_the_app_and_nothing_else() -> None:
    listed = subprocess.run(
        ["git", "ls-files"],  # noqa: S607 - git from PATH, like a developer runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "package.json" in listed, "git ls-files did not list the tree"
    package = package_files(_funcignore(), listed)
    roots = {path.split("/")[0] for path in package}
    assert roots == PACKAGE_ROOTS, f"unexpected in the package: {sorted(roots - PACKAGE_ROOTS)}"
    dev_only = {
        "package.json",
        "package-lock.json",
        "pyproject.toml",
        "requirements-dev.txt",
        "local.settings.json.example",
        ".funcignore",
        ".gitignore",
        "azure.yaml",
    }
    assert dev_only & package == set()


def test_the_package_check_catches_a_dev_file_left_in() -> None:
    patterns = [p for p in _funcignore() if p not in ("/package.json", "tests/")]
    package = package_files(patterns, ["package.json", "tests/test_x.py", "host.json"])
    assert package == {"package.json", "tests/test_x.py", "host.json"}
