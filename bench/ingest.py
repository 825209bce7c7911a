"""Ingest benchmarks (issue 3): the batch fact path against a raw `executemany` baseline.

`ingest_facts_per_s` = canonicalize + hash + persist (the measured path also writes the
`embedding_queue` rows through the fact_changed receiver). The baseline inserts the very same rows,
already built, with plain `executemany` in one transaction into an empty `events` table carrying
every constraint and index of SPEC §2.
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from bench.run import Figure
from bench.synthetic import workload

FACTS = 5000


def _use_database(url: str) -> sa.Engine:
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine

    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    return engine


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
        repo = refs.setdefault(raw_repo["id"], repo_ref(raw_repo))
        if kind == "commit":
            facts.extend(canonicalize_rest_commit(item, repo))
        else:
            facts.extend(canonicalize_rest_pull(item, repo))
    return facts


def bench_ingest(workdir: Path) -> list[Figure]:
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — connects the embedding-queue receiver
    from gitpulse_app.core.db import set_engine
    from gitpulse_app.core.models import EmbeddingQueueItem, Event, Repo, User
    from gitpulse_app.normalization.store import ingest_facts

    items = workload(FACTS)
    ours = _use_database(f"sqlite:///{workdir / 'ingest.db'}")
    started = time.perf_counter()
    result = ingest_facts(_canonicalize(items), observed_via="backfill")
    elapsed = time.perf_counter() - started
    with ours.connect() as conn:
        queued = conn.execute(sa.select(sa.func.count()).select_from(EmbeddingQueueItem)).scalar()
        users = [dict(r._mapping) for r in conn.execute(sa.select(User.__table__))]
        repos = [dict(r._mapping) for r in conn.execute(sa.select(Repo.__table__))]
        rows = [dict(r._mapping) for r in conn.execute(sa.select(Event.__table__))]
    if result.inserted != FACTS or queued != FACTS:
        raise RuntimeError(f"ingest wrote {result.inserted} facts and {queued} queue rows")
    facts_per_s = FACTS / elapsed

    raw = _use_database(f"sqlite:///{workdir / 'raw.db'}")
    with raw.begin() as conn:
        conn.execute(sa.insert(User.__table__), users)
        conn.execute(sa.insert(Repo.__table__), repos)
    for row in rows:
        row.pop("id")
    insert = sa.insert(Event.__table__)
    started = time.perf_counter()
    with raw.begin() as conn:
        conn.execute(insert, rows)
    raw_per_s = len(rows) / (time.perf_counter() - started)
    set_engine(None)
    return [
        Figure("ingest_facts_per_s", round(facts_per_s), "/s", ">= 2000"),
        Figure("raw_insert_rows_per_s", round(raw_per_s), "/s"),
        Figure("ingest_vs_raw_insert_ratio", round(facts_per_s / raw_per_s, 3), "x", ">= 0.25"),
    ]
