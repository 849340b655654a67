"""Call control over REST (accept, reject, refer, hang up) and the one place errors are classified.

Durable's Python ``RetryOptions`` retries every exception alike, so the split is made here:
transient failures (429, 5xx, timeouts, connection errors) raise :class:`TransientCallError` for
Durable to retry; "the call is gone" (404) and other permanent refusals (400, 401, 403, ...) are
returned as a typed :class:`ControlResult`, which the orchestrator turns into an end reason.
A request that got no answer may have been carried out: reject and hang-up are sent once more at
once (a 404 then means the first one worked), a REFER is never sent twice (see ``run_control``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import openai

from switchboard.sip import is_transfer_target
from switchboard.untrusted import shown

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """How a call-control request ended, as far as the orchestrator cares."""

    OK = "ok"
    CALL_GONE = "call_gone"
    REFUSED = "refused"


@dataclass(frozen=True)
class ControlResult:
    """The outcome of one request; ``status``/``code`` are the API's when it refused."""

    outcome: Outcome
    status: int | None = None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as it travels back through Durable."""
        return {"outcome": self.outcome.value, "status": self.status, "code": self.code}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ControlResult:
        """Inverse of :meth:`to_dict`."""
        return cls(Outcome(data["outcome"]), data.get("status"), data.get("code"))


class TransientCallError(Exception):
    """Worth retrying: the service was busy, failing or unreachable."""


class _MaybeDone(TransientCallError):
    """No answer (timeout, connection lost): the request may or may not have been carried out."""


_TRANSIENT_STATUSES = frozenset({408, 425, 429})
RING_TIMEOUT_CODE = "ring_timeout"
"""The code of an accept not sent because the ring limit had passed (a late Durable retry)."""
INVALID_TARGET_CODE = "invalid_target"
"""The code of a REFER not sent because its target failed :func:`is_transfer_target`."""
UNCONFIRMED_CODE = "unconfirmed"
"""The code of a REFER whose answer was lost: the transfer check decides whether it happened."""


async def run_control(
    action: str,
    call_id: str,
    request: Callable[[], Awaitable[object]],
    *,
    done_already: int | None = None,
    resend: bool = True,
) -> ControlResult:
    """Run one SDK call-control request and classify its result.

    ``done_already`` names the status that means an earlier attempt of ours succeeded (409 on
    accept: Durable runs activities at least once, and only this call's orchestration accepts it).
    A request that got no answer may have been carried out. With ``resend`` it is sent once more
    at once, and a 404 then means the first one ended the call (reject, hang-up); without, it
    counts as sent but unconfirmed (REFER: a second one would transfer the caller twice).
    """
    try:
        return await _attempt(action, call_id, request, done_already)
    except _MaybeDone:
        if not resend:
            logger.warning("%s of call %s is unconfirmed: not sent again", action, shown(call_id))
            return ControlResult(Outcome.OK, None, UNCONFIRMED_CODE)
        logger.warning("%s of call %s may have been done: sending it again", action, shown(call_id))
        result = await _attempt(action, call_id, request, done_already)
        if result.outcome is Outcome.CALL_GONE and done_already is None:
            logger.info(
                "%s of call %s: gone, so the first attempt was done", action, shown(call_id)
            )
            return ControlResult(Outcome.OK, result.status, result.code)
        return result


async def _attempt(
    action: str,
    call_id: str,
    request: Callable[[], Awaitable[object]],
    done_already: int | None,
) -> ControlResult:
    try:
        await request()
    except (openai.APIConnectionError, openai.APITimeoutError) as error:
        logger.warning(
            "%s of call %s could not reach the service: %s", action, shown(call_id), error
        )
        raise _MaybeDone(f"{action}: {type(error).__name__}") from error
    except openai.APIStatusError as error:
        code = _error_code(error)
        if error.status_code == done_already:
            logger.info("%s of call %s was already done (%s)", action, shown(call_id), code)
            return ControlResult(Outcome.OK, error.status_code, code)
        if error.status_code in _TRANSIENT_STATUSES or error.status_code >= 500:
            logger.warning(
                "%s of call %s failed with %s, retrying", action, shown(call_id), error.status_code
            )
            raise TransientCallError(f"{action}: HTTP {error.status_code}") from error
        outcome = Outcome.CALL_GONE if error.status_code == 404 else Outcome.REFUSED
        logger.warning(
            "%s of call %s refused: HTTP %s (%s)", action, shown(call_id), error.status_code, code
        )
        return ControlResult(outcome, error.status_code, code)
    logger.info("%s of call %s done", action, shown(call_id))
    return ControlResult(Outcome.OK)


class CallControl:
    """accept / reject / refer / hangup for one client (Azure v1 or OpenAI paths alike)."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._calls = client.realtime.calls

    async def accept(
        self, call_id: str, session: dict[str, Any], deadline: datetime | None = None
    ) -> ControlResult:
        """Answer the call with ``session`` (the accept body, ``type`` included).

        Past ``deadline`` nothing is sent: the orchestration has stopped waiting for this answer.
        """
        if deadline is not None and datetime.now(UTC) >= deadline:
            logger.warning("accept of call %s not sent: the ring limit has passed", shown(call_id))
            return ControlResult(Outcome.REFUSED, None, RING_TIMEOUT_CODE)
        body = {key: value for key, value in session.items() if key != "type"}
        return await run_control(
            "accept",
            call_id,
            lambda: self._calls.accept(call_id, type="realtime", **body),
            done_already=409,
        )

    async def reject(self, call_id: str, status_code: int) -> ControlResult:
        """Decline the call with a SIP status (486 busy, 603 decline, ...)."""
        return await run_control(
            "reject", call_id, lambda: self._calls.reject(call_id, status_code=status_code)
        )

    async def refer(self, call_id: str, target_uri: str) -> ControlResult:
        """Ask the SIP provider to transfer the caller; 200 means relayed, not completed.

        The last guard of the one path to a REFER: a target that is not valid (however it got
        here, e.g. in the input of an orchestration started under older rules) is not sent.
        """
        if not is_transfer_target(target_uri):
            logger.error(
                "refer of call %s not sent: invalid target %s", shown(call_id), shown(target_uri)
            )
            return ControlResult(Outcome.REFUSED, 400, INVALID_TARGET_CODE)
        return await run_control(
            "refer",
            call_id,
            lambda: self._calls.refer(call_id, target_uri=target_uri),
            resend=False,
        )

    async def hangup(self, call_id: str) -> ControlResult:
        """End the call; the service closes the call's sockets."""
        return await run_control("hangup", call_id, lambda: self._calls.hangup(call_id))


def _error_code(error: openai.APIStatusError) -> str | None:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else None
