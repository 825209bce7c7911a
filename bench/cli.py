"""CLI start-up benchmark (issue 16): a whole `python -m gitpulse_app report …` process.

`cli_report_cache_hit_ms` is the wall time of the process (interpreter start, imports, argument
parsing, the cache lookup and printing) for a report that is already stored, median of 7 runs, on
a SQLite file holding the demo workspace (`demo seed`: 744 facts, 8 reports).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.run import Figure
from bench.stats import median

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7


def _cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitpulse_app", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True)


def _stored_daily_end(path: Path) -> str:
    """The local end date (`--end`) of the demo user's newest stored daily report (zone UTC)."""
    with sqlite3.connect(path) as conn:
        start = conn.execute(
            "SELECT r.start_date FROM reports r JOIN users u ON u.id = r.user_id "
            "WHERE u.gh_login = 'demo' AND r.kind = 'daily' AND r.deleted_at IS NULL "
            "ORDER BY r.start_date DESC LIMIT 1").fetchone()[0]
    return dt.datetime.fromisoformat(start).date().isoformat()


def bench_cli_report(workdir: Path) -> list[Figure]:
    path = workdir / "cli.db"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{path}",
            "GITPULSE_SECRET_KEY": "bench-secret"}
    _cli(env, "db", "upgrade")
    _cli(env, "demo", "seed")
    argv = ("report", "--login", "demo", "--kind", "daily", "--end", _stored_daily_end(path))
    # Only a cache hit is timed: a run that generated something would measure the wrong thing.
    if not json.loads(_cli(env, *argv, "--json").stdout)["cache_hit"]:
        raise RuntimeError("the seeded report was not a cache hit")
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        _cli(env, *argv)
        seconds.append(time.perf_counter() - started)
    return [Figure("cli_report_cache_hit_ms", round(median(seconds) * 1000, 1), "ms", "<= 1000")]


if __name__ == "__main__":
    import tempfile

    from bench.run import print_table

    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        print_table(bench_cli_report(Path(tmp)))
