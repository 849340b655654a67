"""A local stand-in for Azure OpenAI's SIP gateway and GPT Realtime API (see emulator/README.md)."""

from .call import Call, CallState, EndReason
from .config import DEFAULT_API_KEY, DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, EmulatorConfig
from .scenario import SCENARIOS, Scenario, ScenarioError, load_scenario, parse_scenario
from .server import Emulator

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "DEFAULT_WEBHOOK_SECRET",
    "SCENARIOS",
    "Call",
    "CallState",
    "Emulator",
    "EmulatorConfig",
    "EndReason",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]
