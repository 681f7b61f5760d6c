import gc

from ccx.heap import YOUNG_THRESHOLD, settle_after_startup


def test_objects_alive_at_startup_leave_later_collections() -> None:
    before = gc.get_threshold()
    survivor = [object() for _ in range(1000)]
    try:
        settle_after_startup()
        assert gc.get_freeze_count() >= len(survivor)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
