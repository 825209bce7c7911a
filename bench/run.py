"""`make bench`: run every benchmark, print a table, rewrite bench/results.json.

Each benchmark is a function returning `Figure`s; later capabilities append theirs to `BENCHMARKS`.
Ratios are written so that higher is better.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.stats import by_stack

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | int
    unit: str
    target: str = ""


Benchmark = Callable[[Path], list[Figure]]


def bench_migrations(workdir: Path) -> list[Figure]:
    from gitpulse_app.core import migrate

    url = f"sqlite:///{workdir / 'migrate.db'}"
    started = time.perf_counter()
    migrate.upgrade(url)
    return [Figure("migrate_sqlite_s", round(time.perf_counter() - started, 3), "s")]


def bench_health(workdir: Path) -> list[Figure]:
    from bench.server import serve_api, timed_gets
    from bench.stats import percentile

    url = f"sqlite:///{workdir / 'health.db'}"
    with serve_api(url) as base:
        liveness = timed_gets(f"{base}/api/health", 500)
    return [
        Figure("health_liveness_p50_ms", round(percentile(liveness, 50), 2), "ms"),
        Figure("health_liveness_p99_ms", round(percentile(liveness, 99), 2), "ms", "< 100"),
    ]


def _all_benchmarks() -> list[Benchmark]:
    from bench.embeddings import bench_search
    from bench.ingest import bench_ingest, bench_ingest_postgres
    from bench.load import bench_webhook_load
    from bench.prod_load import bench_webhook_load_prod
    from bench.reports import bench_reports
    from bench.scheduler import bench_scheduler
    from bench.sync import bench_sync
    from bench.ui import bench_ui
    from bench.webhook_e2e import bench_webhook_e2e_sqlite
    from bench.webhooks import bench_webhook_ack
    from bench.api import bench_api
    from bench.cli import bench_cli_report

    return [bench_migrations, bench_health, bench_ingest, bench_ingest_postgres, bench_webhook_ack,
            bench_search, bench_reports, bench_sync, bench_ui, bench_scheduler, bench_webhook_load,
            bench_webhook_e2e_sqlite, bench_webhook_load_prod, bench_api, bench_cli_report]


def print_table(figures: list[Figure]) -> None:
    width = max(len(f.name) for f in figures)
    print(f"{'figure':<{width}}  {'value':>12}  unit  target")
    for f in figures:
        print(f"{f.name:<{width}}  {f.value:>12}  {f.unit:<4}  {f.target}")


def main() -> int:
    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        for bench in _all_benchmarks():
            print(f"running {bench.__name__}…", file=sys.stderr)
            figures.extend(bench(Path(tmp)))
    results: dict[str, object] = {f.name: f.value for f in figures}
    results.update(by_stack({f.name: f.value for f in figures}))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(figures)
    print(f"\nwrote {RESULTS}")
    invalid = [f.name for f in figures if f.target.startswith("invalid")]
    if invalid:
        print(f"invalid figures (see their targets): {', '.join(invalid)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
