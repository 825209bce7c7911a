"""Ingest benchmarks (issue 3): the batch fact path against a plain DB-API `executemany`.

- `ingest_facts_per_s`: canonicalize + hash + persist 5,000 REST items (80% commits, 20% pull
  requests, 3 repositories, 10 actors) through `ingest_facts` on a migrated SQLite file (WAL,
  synchronous=NORMAL, as the app opens it); the `fact_changed` receiver's embedding-queue rows are
  written too. Each run starts from a fresh migrated database; the process first freezes its
  start-up heap out of the garbage collector, as the backend and the API do once started.
- `raw_insert_rows_per_s`: the very rows the first ingest run stored (read back as stored),
  inserted with one `sqlite3` `executemany` in one transaction into a fresh migrated database —
  the same table, constraints and indexes — opened with the same pragmas; users and repositories
  are inserted beforehand, untimed.
- `ingest_vs_raw_insert_ratio`: the first ÷ the second.

Both sides are the median of RUNS runs in this one process, taken in turns (an ingest run, then
a raw run). The `_pg` figures repeat the comparison on PostgreSQL with a plain psycopg
`executemany` as the baseline (`bench_ingest_postgres`).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from bench.run import Figure
from bench.stats import median, rate, ratio, timed_runs
from bench.synthetic import workload

FACTS = 5000
RUNS = 5
APP_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def _migrated(path: Path) -> str:
    from gitpulse_app.core import migrate

    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


def _canonicalize(items):
    from gitpulse_app.normalization.canonicalize import repo_ref
    from gitpulse_app.normalization.canonicalize_rest import (
        canonicalize_rest_commit,
        canonicalize_rest_pull,
    )

    # As in a sync job, the repository is read once (its `repo` stage), not per item.
    refs = {}
    facts = []
    for kind, item, raw_repo in items:
        repo = refs.get(raw_repo["id"])
        if repo is None:
            repo = refs[raw_repo["id"]] = repo_ref(raw_repo)
        if kind == "commit":
            facts.extend(canonicalize_rest_commit(item, repo))
        else:
            facts.extend(canonicalize_rest_pull(item, repo))
    return facts


def _table_rows(path: Path, table: str) -> tuple[list[str], list[tuple]]:
    """A table's columns and rows exactly as stored (text timestamps, JSON text)."""
    with sqlite3.connect(path) as conn:
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")
        return [c[0] for c in cursor.description], cursor.fetchall()


def raw_executemany(path: Path, table: str, columns: list[str], rows: list[tuple],
                    before: dict[str, tuple[list[str], list[tuple]]]) -> float:
    """Seconds of one plain `executemany` of `rows` into `table` of the database at `path`.

    `before` (table → columns, rows) is inserted first, untimed: the rows the facts refer to.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in APP_PRAGMAS:
            conn.execute(pragma)
        conn.execute("BEGIN")
        for name, (cols, values) in before.items():
            conn.executemany(f"INSERT INTO {name} ({', '.join(cols)}) "
                             f"VALUES ({', '.join('?' * len(cols))})", values)
        conn.execute("COMMIT")
        statement = (f"INSERT INTO {table} ({', '.join(columns)}) "
                     f"VALUES ({', '.join('?' * len(columns))})")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(statement, rows)
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def bench_ingest(workdir: Path) -> list[Figure]:
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — the embedding-queue receiver
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.core.models import EmbeddingQueueItem
    from gitpulse_app.core.startup import freeze_startup_heap
    from gitpulse_app.normalization.store import ingest_facts

    items = workload(FACTS)
    freeze_startup_heap()  # as the backend and the API do once started

    def one_ingest(path: Path) -> float:
        engine = create_db_engine(_migrated(path))  # migrated before the clock starts
        set_engine(engine)
        try:
            seconds, (result,) = timed_runs(
                lambda: ingest_facts(_canonicalize(items), observed_via="backfill"), 1)
            with engine.connect() as conn:
                queued = conn.execute(
                    sa.select(sa.func.count()).select_from(EmbeddingQueueItem)).scalar()
        finally:
            set_engine(None)
            engine.dispose()
        if result.inserted != FACTS or queued != FACTS:
            raise RuntimeError(f"ingest wrote {result.inserted} facts and {queued} queue rows")
        return seconds[0]

    # The two sides take turns, so a slow spell of a shared machine falls on both.
    ingest_seconds, raw_seconds = [], []
    for n in range(RUNS):
        stored = workdir / f"ingest-{n}.db"
        ingest_seconds.append(one_ingest(stored))
        if n == 0:
            columns, rows = _table_rows(stored, "events")
            before = {table: _table_rows(stored, table) for table in ("users", "repos")}
        path = workdir / f"raw-{n}.db"
        _migrated(path)
        raw_seconds.append(raw_executemany(path, "events", columns, rows, before))
    facts_per_s = rate(FACTS, median(ingest_seconds))
    raw_per_s = rate(len(rows), median(raw_seconds))
    return [
        Figure("ingest_facts_per_s", round(facts_per_s), "/s", ">= 2000"),
        Figure("raw_insert_rows_per_s", round(raw_per_s), "/s"),
        Figure("ingest_vs_raw_insert_ratio", round(ratio(facts_per_s, raw_per_s), 3), "x",
               ">= 0.25"),
    ]



def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bench_ingest_postgres(workdir: Path) -> list[Figure]:
    """The same comparison on PostgreSQL: `ingest_facts` against a plain psycopg `executemany`.

    One throwaway database; before each run its fact tables are emptied with `TRUNCATE … RESTART
    IDENTITY CASCADE` (new, empty relations with the migrated indexes). The raw side inserts the
    rows the last ingest stored, read back with psycopg, into the emptied `events` table (users and
    repositories kept) in one transaction. Both sides are the median of RUNS runs.
    """
    import psycopg
    from psycopg.types.json import Json

    import gitpulse_app.intelligence.embeddings  # noqa: F401 — the embedding-queue receiver
    from bench.load import throwaway_database
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.normalization.store import ingest_facts

    items = workload(FACTS)
    with throwaway_database("gitpulse_bench_ingest") as url:
        migrate.upgrade(url)
        engine = create_db_engine(url)
        set_engine(engine)
        ingest_seconds = []
        try:
            for _ in range(RUNS):
                with engine.begin() as conn:
                    conn.exec_driver_sql("TRUNCATE events, embedding_queue, users, repos "
                                         "RESTART IDENTITY CASCADE")
                seconds, (result,) = timed_runs(
                    lambda: ingest_facts(_canonicalize(items), observed_via="backfill"), 1)
                if result.inserted != FACTS:
                    raise RuntimeError(f"ingest wrote {result.inserted} facts")
                ingest_seconds.append(seconds[0])
        finally:
            set_engine(None)
            engine.dispose()
        with psycopg.connect(_psycopg_url(url)) as conn:
            cursor = conn.execute("SELECT * FROM events ORDER BY id")
            columns = [column.name for column in cursor.description]
            rows = [tuple(Json(v) if isinstance(v, (dict, list)) else v for v in row)
                    for row in cursor.fetchall()]
            conn.commit()
            statement = (f"INSERT INTO events ({', '.join(columns)}) "
                         f"VALUES ({', '.join(['%s'] * len(columns))})")
            raw_seconds = []
            for _ in range(RUNS):
                conn.execute("TRUNCATE events RESTART IDENTITY CASCADE")
                conn.commit()
                started = time.perf_counter()
                with conn.cursor() as insert:
                    insert.executemany(statement, rows)
                conn.commit()
                raw_seconds.append(time.perf_counter() - started)
    facts_per_s = rate(FACTS, median(ingest_seconds))
    raw_per_s = rate(len(rows), median(raw_seconds))
    return [
        Figure("ingest_facts_per_s_pg", round(facts_per_s), "/s"),
        Figure("raw_insert_rows_per_s_pg", round(raw_per_s), "/s"),
        Figure("ingest_vs_raw_insert_ratio_pg", round(ratio(facts_per_s, raw_per_s), 3), "x"),
    ]

if __name__ == "__main__":
    import os
    import tempfile

    from bench.run import print_table

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        print_table(bench_ingest(Path(tmp)) + bench_ingest_postgres(Path(tmp)))
