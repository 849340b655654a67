"""The call-slots sweep: slots left by orchestrations that never ran their last step are freed."""

from __future__ import annotations

from devhost.durable_host import DurableTestHost
from devhost.functions import call_timer
from emulator import Emulator
from switchboard.webhook import instance_id_for
from tests.blueprints.calls import held_slots
from tests.conftest import CallEnv


async def run_sweep(host: DurableTestHost) -> None:
    await call_timer(host, "reconcile_call_slots")


async def test_a_terminated_calls_slot_is_swept_and_a_live_one_is_kept(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="5", SILENCE_SECONDS="0")
    webhook = f"{app_url}/api/calls/incoming"
    kept = await emulator.place_call("silent_caller", webhook_url=webhook)
    killed = await emulator.place_call("silent_caller", webhook_url=webhook)
    await app_host.wait_until(lambda: len(held_slots(app_host)) == 2, what="two slots")

    await run_sweep(app_host)
    assert set(held_slots(app_host)) == {kept, killed}  # both live: nothing to free

    app_host.terminate(instance_id_for(killed), "terminated by an administrator")
    await app_host.wait_for_completion(instance_id_for(killed))
    assert killed in held_slots(app_host)  # a terminated orchestration runs no last step
    await run_sweep(app_host)
    assert list(held_slots(app_host)) == [kept]

    await emulator.caller_hangup(kept)
    await app_host.wait_for_completion(instance_id_for(kept), timeout=15)
    assert held_slots(app_host) == {}
    await emulator.caller_hangup(killed)


async def test_the_sweep_is_a_no_op_before_any_call(app_host: DurableTestHost) -> None:
    await run_sweep(app_host)
    assert held_slots(app_host) == {}
