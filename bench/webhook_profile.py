"""Where webhook processing spends its time: cProfile over one drain of a realistic backlog.

`python -m bench.webhook_profile [COUNT]` stores COUNT deliveries of the mix in `bench/mix.py`
(default 3,000) as pending envelopes in a migrated SQLite file, then profiles one
`processor.drain()` in this process, with the `fact_changed` receivers connected (embedding queue,
report staleness) as in the server. It prints the drain's rate and the time per stage (cumulative
seconds of the functions that make each stage); BENCHMARKS.md quotes its output.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

# (stage, module path fragment, function name): cumulative time of that function.
STAGES = (
    ("claim (select + conditional update)", "webhooks/envelopes.py", "claim_next"),
    ("claim a batch", "webhooks/envelopes.py", "claim_batch"),
    ("payload JSON decode", "json/decoder.py", "decode"),
    ("schema check", "acquisition/webhook_schema.py", "check_webhook_schema"),
    ("canonicalize", "normalization/canonicalize_webhook.py", "canonicalize_webhook"),
    ("ensure installation", "webhooks/installations.py", "ensure_installation"),
    ("store facts (upsert transaction)", "normalization/store.py", "store_facts"),
    ("fact_changed: embedding enqueue", "embeddings/worker.py", "on_fact_changed"),
    ("fact_changed: report staleness", "reports/staleness.py", "on_fact_changed"),
    ("outcome writes", "webhooks/envelopes.py", "_write_outcome"),
    ("outcome writes (batch)", "webhooks/processor.py", "_complete_batch"),
    ("log lines", "logging/__init__.py", "handle"),
    ("commits (session_scope exit)", "sqlalchemy/engine/base.py", "commit"),
)


def _store_backlog(count: int) -> None:
    from bench.mix import build_mix
    from gitpulse_app.acquisition.webhooks.receiver import (
        envelope_values,
        raw_payload_text,
        store_envelopes,
    )

    deliveries = build_mix(count, "profile")
    rows = [envelope_values(d.delivery_id, d.event, json.loads(d.body), raw_payload_text(d.body))
            for d in deliveries]
    for start in range(0, len(rows), 200):
        store_envelopes(rows[start:start + 200])


def stage_times(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """(stage, cumulative seconds, calls) of each stage found in the profile."""
    found = []
    for stage, fragment, name in STAGES:
        seconds, calls = 0.0, 0
        entries = stats.stats.items()  # type: ignore[attr-defined]
        for (path, _, function), (_, ncalls, _, cumulative, _) in entries:
            if function == name and fragment in path:
                seconds += cumulative
                calls += ncalls
        if calls:
            found.append((stage, seconds, calls))
    return found


def profile_drain(count: int, workdir: Path) -> tuple[float, int, pstats.Stats]:
    """Profile one drain of `count` stored deliveries; (seconds, envelopes completed, stats)."""
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — the embedding-queue receiver
    import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — the staleness receiver
    from gitpulse_app.acquisition.webhooks import processor
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine

    url = f"sqlite:///{workdir / 'profile.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    try:
        _store_backlog(count)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        result = processor.drain()
        profiler.disable()
        elapsed = time.perf_counter() - started
    finally:
        set_engine(None)
        engine.dispose()
    return elapsed, result.completed, pstats.Stats(profiler)


def main() -> int:
    from gitpulse_app.core.logging import configure_logging

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    # Log lines are formatted as in the server (their cost is part of the profile), then dropped.
    with open(os.devnull, "w") as devnull, \
            tempfile.TemporaryDirectory(prefix="gitpulse-profile-") as tmp:
        configure_logging(devnull, logging.INFO)
        elapsed, completed, stats = profile_drain(count, Path(tmp))
        configure_logging(sys.stderr)
    print(f"drained {completed} of {count} envelopes in {elapsed:.2f} s under cProfile "
          f"({completed / elapsed:.0f} envelopes/s)")
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"profiled time {total:.2f} s; by stage (cumulative, stages overlap):")
    for stage, seconds, calls in stage_times(stats):
        print(f"  {stage:<40} {seconds:7.2f} s  {100 * seconds / total:5.1f}%  {calls:>7} calls")
    print("\ntop 15 by own time:")
    stats.sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
