from switchboard.slots import Slots


def test_slots_are_held_by_call_id_so_repeats_are_harmless() -> None:
    slots = Slots()
    assert slots.acquire("a", limit=2, at="t1")
    assert slots.acquire("a", limit=2, at="t2")  # a replayed or repeated acquire keeps the slot
    assert slots.held == {"a": "t1"}
    assert slots.acquire("b", limit=2, at="t3")
    assert not slots.acquire("c", limit=2, at="t4")
    assert slots.release("a")
    assert not slots.release("a")  # a second release frees nothing else
    assert slots.acquire("c", limit=2, at="t5")
    assert set(slots.held) == {"b", "c"}


def test_state_round_trips_and_a_new_entity_starts_empty() -> None:
    slots = Slots({"a": "t1"})
    assert Slots.from_state(slots.to_state()) == slots
    assert Slots.from_state(None) == Slots()
    assert Slots.from_state({}) == Slots()
