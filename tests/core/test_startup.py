import gc

from gitpulse_app.core.startup import freeze_startup_heap


def test_the_startup_heap_leaves_the_collectors_generations():
    kept_for_life = [[] for _ in range(1000)]  # tracked containers
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(kept_for_life)
        assert gc.get_count()[2] == 0  # nothing left waiting for a full collection
    finally:
        gc.unfreeze()
