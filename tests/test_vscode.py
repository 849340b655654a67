"""The .vscode set refers only to tasks, inputs, modules and scenarios that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from emulator.scenario import SCENARIOS

VSCODE = Path(__file__).resolve().parents[1] / ".vscode"


def load(name: str) -> Any:
    return json.loads((VSCODE / name).read_text())


def test_launch_and_task_references_resolve() -> None:
    tasks = load("tasks.json")
    launch = load("launch.json")
    labels = {task["label"] for task in tasks["tasks"]}
    inputs = {item["id"]: item for item in tasks["inputs"]}
    wanted = [c["preLaunchTask"] for c in launch["configurations"] if "preLaunchTask" in c]
    for task in tasks["tasks"]:
        depends = task.get("dependsOn", [])
        wanted += [depends] if isinstance(depends, str) else depends
        for used in re.findall(r"\$\{input:(\w+)\}", json.dumps(task)):
            assert used in inputs, used
    assert set(wanted) <= labels, set(wanted) - labels
    assert set(inputs["scenario"]["options"]) <= set(SCENARIOS)
    modules = {c.get("module") for c in launch["configurations"]}
    assert {"devhost", "pytest"} <= modules
