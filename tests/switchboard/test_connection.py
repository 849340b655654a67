import gc

from switchboard.connection import GC_YOUNG_THRESHOLD, tune_gc_for_calls


def test_the_collector_is_tuned_once_for_many_calls() -> None:
    tune_gc_for_calls()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    tune_gc_for_calls()  # once per process: a second call freezes nothing more
    assert gc.get_freeze_count() <= frozen
