"""Stop early, saying what to do, on a Python that Switchboard does not support.

The supported range is written once, as pyproject.toml's `requires-python`. This file reads it
without tomllib and runs on Python 3.9 and later, so that an unsupported interpreter
prints this message instead of a traceback from deep inside the app. Usage:

    "$PYTHON" scripts/check_python.py                # is this interpreter supported?
    .venv/bin/python scripts/check_python.py --venv [PYTHON]
        # is the existing .venv supported, and (when PYTHON is given) of PYTHON's version?
"""

from __future__ import annotations

import re
import subprocess  # nosec B404
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_REQUIRES = re.compile(r'^requires-python\s*=\s*">=(\d+)\.(\d+)\s*,\s*<(\d+)\.(\d+)"', re.M)

Version = tuple[int, int]


def supported_range(pyproject_text: str) -> tuple[Version, Version]:
    """The lowest supported (major, minor) and the first unsupported one above it."""
    match = _REQUIRES.search(pyproject_text)
    if match is None:
        raise ValueError('pyproject.toml must say requires-python = ">=X.Y,<X.Z"')
    major, minor, next_major, next_minor = (int(group) for group in match.groups())
    return (major, minor), (next_major, next_minor)


def problem(version: Version, pyproject_text: str) -> str | None:
    """Why `version` cannot run Switchboard, or None when it can."""
    lowest, first_unsupported = supported_range(pyproject_text)
    if lowest <= version < first_unsupported:
        return None
    names = [f"{lowest[0]}.{minor}" for minor in range(lowest[1], first_unsupported[1])]
    words = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return (
        f"Switchboard needs Python {words} (pyproject.toml requires-python), "
        f"not {version[0]}.{version[1]}"
    )


def _version_of(python: str) -> Version:
    # Runs the interpreter the user named in PYTHON, as the test command itself then does.
    command = [python, "-c", "import sys; print(*sys.version_info[:2])"]
    major, minor = subprocess.check_output(command, text=True).split()  # noqa: S603  # nosec
    return int(major), int(minor)


def check(argv: list[str], here: Version, pyproject_text: str) -> str | None:
    """What is wrong for the command line `argv` run by Python `here`; None when all is well."""
    lowest, _ = supported_range(pyproject_text)
    hint = f"PYTHON=python{lowest[0]}.{lowest[1]}"
    why = problem(here, pyproject_text)
    if argv[:1] != ["--venv"]:
        return None if why is None else f"{why}: {sys.executable}. Set e.g. {hint}."
    if why is not None:
        return f"{why}: the existing .venv. Remove .venv and run again, e.g. with {hint}."
    if len(argv) > 1 and argv[1] and (wanted := _version_of(argv[1])) != here:
        return (
            f"PYTHON={argv[1]} is Python {wanted[0]}.{wanted[1]} but the existing .venv is "
            f"{here[0]}.{here[1]}: remove .venv to rebuild it with {argv[1]}."
        )
    return None


if __name__ == "__main__":
    here = (sys.version_info.major, sys.version_info.minor)
    message = check(sys.argv[1:], here, PYPROJECT.read_text(encoding="utf-8"))
    if message is not None:
        sys.exit(message)
