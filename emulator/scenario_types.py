"""The shape of a scenario: typed, frozen dataclasses (parsed from TOML by emulator.scenario)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

WaitUntil: TypeAlias = Literal[
    "accepted", "response_done", "tool_output", "refer", "webhook_done", "connected", "approval"
]
FailStatus: TypeAlias = Literal[429, 500, 503]
RestVerb: TypeAlias = Literal["accept", "reject", "refer", "hangup"]
ClientEventType: TypeAlias = Literal[
    "session.update",
    "response.create",
    "conversation.item.create",
    "conversation.item.retrieve",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "response.cancel",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
]
FaultTrigger: TypeAlias = RestVerb | Literal["connect"] | ClientEventType
"""What a fault lies in wait for: a call-control request, the WebSocket handshake, or a client
event the app sends (one of the types the emulator handles)."""
FaultAction: TypeAlias = Literal[
    "status", "timeout", "reset", "caller_hangup", "drop_sockets", "redeliver_webhook"
]
REST_VERBS: tuple[str, ...] = get_args(RestVerb)
CLIENT_EVENT_TYPES: tuple[str, ...] = get_args(ClientEventType)
FAULT_TRIGGERS: tuple[str, ...] = (*REST_VERBS, "connect", *CLIENT_EVENT_TYPES)
FAULT_ACTIONS: tuple[str, ...] = get_args(FaultAction)
HTTP_ONLY_ACTIONS = frozenset({"status", "timeout", "reset"})
"""Actions that answer (or withhold the answer to) an HTTP request: not for client events."""
MAX_HOLD_SECONDS = 600.0
MAX_EXTRA_SIGNATURES = 5
MAX_KEYS = 64
KEYPAD_KEYS = re.compile(rf"[0-9*#A-D]{{1,{MAX_KEYS}}}\Z")


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ToolCall:
    """A function call the scripted model makes."""

    name: str
    arguments: Mapping[str, object] = field(default_factory=dict)
    mcp_output: str = '{"ok":true}'
    """An ``mcp:`` tool's output, when it succeeds."""
    mcp_error: str | None = None
    """An ``mcp:`` tool fails with this ``tool_execution_error`` message."""
    approval_request_id: str | None = None
    """Set on an ``mcp:`` call the client approved (the emulator sets it)."""

    @property
    def arguments_json(self) -> str:
        """The arguments as the Realtime API sends them: a JSON string."""
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class ModelTurn:
    """What the model outputs in one response: spoken text, a tool call, or both (text first)."""

    reply: str | None = None
    tool: ToolCall | None = None
    next_reply: str | None = None
    """Queued for the next response the *client* requests (e.g. after a tool output)."""


@dataclass(frozen=True)
class Wait:
    """Pause the script (scaled by the time scale)."""

    seconds: float


@dataclass(frozen=True)
class WaitFor:
    """Block until something happens that the script has not seen yet."""

    until: WaitUntil
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class Say:
    """The caller speaks; unless `turn` is None the model then answers as server VAD would."""

    text: str
    turn: ModelTurn | None


@dataclass(frozen=True)
class Respond:
    """The model produces a response on its own initiative (no caller speech)."""

    turn: ModelTurn


@dataclass(frozen=True)
class Hangup:
    """The caller hangs up (cancels the INVITE if the call is still ringing)."""


@dataclass(frozen=True)
class DropSockets:
    """The service drops every WebSocket of the call abnormally; the call itself stays up."""


@dataclass(frozen=True)
class RedeliverWebhook:
    """The gateway delivers the call's webhook once more (same `webhook-id`), and waits for it."""


@dataclass(frozen=True)
class Keypad:
    """The caller presses keys: one `input_audio_buffer.dtmf_event_received` per key."""

    keys: str
    interval_seconds: float = 0.1
    """Between two presses (scaled by the time scale)."""


@dataclass(frozen=True)
class Repeat:
    """Run `steps` `times` times (for long calls)."""

    times: int
    steps: tuple[Step, ...]


Step: TypeAlias = (
    Wait | WaitFor | Say | Respond | Keypad | Hangup | DropSockets | RedeliverWebhook | Repeat
)


@dataclass(frozen=True)
class Caller:
    """The SIP INVITE the caller sends; becomes the webhook's `sip_headers`."""

    from_header: str = '"Alice" <sip:+14155550123@carrier.example>;tag=emu1'
    to_header: str = "<sip:+18005550100@carrier.example>"
    extra_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WebhookFaults:
    """How the `realtime.call.incoming` webhook is delivered."""

    copies: int = 1
    """Deliveries of the same event (same `webhook-id`); each copy retries on its own."""
    concurrent: int = 1
    """How many of the copies are sent at once; the rest follow one by one."""
    duplicate_delay_seconds: float = 0.05
    bad_signature: bool = False
    timestamp_offset_seconds: int = 0
    """Added to `webhook-timestamp` (and signed), e.g. -900 for a stale delivery."""
    extra_signatures: int = 0
    """Signatures by other keys sent before the real one, space-separated in
    `webhook-signature` (as during a secret rotation): any match must do."""


@dataclass(frozen=True)
class AcceptFaults:
    """How the accept endpoint misbehaves for this call."""

    fail_status: FailStatus | None = None
    fail_times: int = 0
    retry_after_seconds: float = 0.1
    delay_seconds: float = 0.0
    accepts_cancelled_calls: bool = False
    """A caller who hangs up while ringing goes unnoticed: accept still answers 200 and the
    session runs with nobody on the line (reported of the real service)."""


@dataclass(frozen=True)
class ReferBehaviour:
    """What happens after a REFER: the realtime leg ends after a delay, or never."""

    completes: bool = True
    delay_seconds: float = 0.2


@dataclass(frozen=True)
class Fault:
    """One injected fault: it lets `skip` matching requests through, then hits the next `times`.

    `on` is a call-control verb, ``connect`` (the WebSocket handshake) or a client event type.
    `action`: ``status`` answers `status` instead of carrying the request out; ``timeout`` holds
    the request `seconds` (not scaled by the time scale), then carries it out; ``reset`` closes
    the TCP connection without an answer and does not carry it out; ``caller_hangup``,
    ``drop_sockets`` and ``redeliver_webhook`` do that first, then carry the request out (a client
    event is lost with its socket, or with the call). The last three are the only ones allowed on
    client events.
    """

    on: FaultTrigger
    action: FaultAction
    status: FailStatus | None = None
    retry_after_seconds: float = 0.1
    seconds: float = 0.0
    skip: int = 0
    times: int = 1


@dataclass(frozen=True)
class Expectation:
    """How the call should end if the app behaves; unset fields are not checked."""

    state: str | None = None
    reason: str | None = None
    sip_status: int | None = None
    accepts: int | None = None


@dataclass(frozen=True)
class ScriptedAnalysis:
    """What the emulated text deployment answers for this scenario's call (``[analysis]``)."""

    summary: str | None = None
    data: Mapping[str, object] = field(default_factory=dict)
    success: bool | None = None
    success_reason: str = ""
    follow_up: str = ""
    """Empty: no follow-up needed; else why someone should call back."""


@dataclass(frozen=True)
class Scenario:
    """One scripted call."""

    name: str
    description: str
    caller: Caller
    webhook: WebhookFaults
    accept: AcceptFaults
    refer: ReferBehaviour
    steps: tuple[Step, ...]
    expect: Expectation
    faults: tuple[Fault, ...] = ()
    analysis: ScriptedAnalysis = field(default_factory=ScriptedAnalysis)
    mcp_unreachable: frozenset[str] = frozenset()
    """MCP server labels that cannot be reached: their listing and calls fail (``[mcp]``)."""
    session_limit_seconds: float | None = None
    """Ends the session this long after the call was placed (scaled by the time scale), like
    the service's own session limit; None: `max_call_seconds` of the emulator."""
