"""Search benchmark (issues 5 and 16): 100,000 stored 1024-dim vectors, one user's repo.

`search_first_ms` is the first search on a freshly opened database (its matrix not loaded yet, so
it includes reading and quantizing the 100,000 vectors); `search_100k_p50_ms` then times the app's
whole search path (fact version, candidates — cached after the first search —, matrix refresh,
query embedding, int8 scan, exact rescoring, hit loading) on a migrated SQLite file;
`numpy_top10_100k_p50_ms` times a bare NumPy float32 matmul + top-10 over the same 100,000 vectors
held exactly in memory; `search_vs_numpy_ratio` = NumPy p50 ÷ app p50 (higher is better).
`search_matrix_mb_100k` is what the process holds for those vectors (int8 rows, scales, embedding
ids, hash keys and their sorted index, allocated capacity included; 10⁶ bytes);
`search_recall_at_10` is the share of the exact float32 top 10 the app returns, over the queries.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from bench.run import Figure

VECTORS = 100_000
RUNS = 31
QUERIES = ["auth bug in login", "flaky test on CI", "export timeline csv", "dark mode theme"]


def _seed(path: Path, vectors: np.ndarray) -> int:
    """Fill the database with one repo, one actor, and a fact + embedding per vector."""
    from gitpulse_app.intelligence.embeddings.providers import LOCAL_MODEL

    now = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO repos (gh_id, full_name, owner, name, is_private, is_fork, is_archived, "
            "etags, created_at, updated_at) VALUES (1, 'acme/app', 'acme', 'app', 0, 0, 0, '{}', "
            "?, ?)", (stamp, stamp),
        )
        conn.execute(
            "INSERT INTO users (gh_id, gh_login, daily_reports_enabled, weekly_reports_enabled, "
            "email_reports_enabled, week_start_day, is_demo, created_at, updated_at) "
            "VALUES (1, 'alice', 1, 1, 1, 0, 0, ?, ?)", (stamp, stamp),
        )
        repo_id = conn.execute("SELECT id FROM repos").fetchone()[0]
        actor_id = conn.execute("SELECT id FROM users").fetchone()[0]
        events = []
        for i in range(len(vectors)):
            ts = (now - dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            # Rows as large as real ones: a commit with a message of a few hundred characters.
            message = f"Change {i}: " + "adjust the handler and its tests " * 10
            meta = json.dumps({"sha": f"{i:040x}", "message": message, "branch": "main"})
            events.append((repo_id, actor_id, ts, f"Commit {i:07x} by alice – {message[:200]}",
                           f"https://github.com/acme/app/commit/{i:040x}", meta, f"{i:064x}",
                           stamp, stamp))
        conn.executemany(
            "INSERT INTO events (type, repo_id, actor_id, ts, canonical_text, source_url, "
            "metadata, content_hash, observed_via, created_at, updated_at) "
            "VALUES ('commit', ?, ?, ?, ?, ?, ?, ?, 'backfill', ?, ?)", events,
        )
        conn.executemany(
            "INSERT INTO embeddings (content_hash, provider, model, dimensions, vector, "
            "created_at, updated_at) VALUES (?, 'local', ?, 1024, ?, ?, ?)",
            ((f"{i:064x}", LOCAL_MODEL, vectors[i].tobytes(), stamp, stamp)
             for i in range(len(vectors))),
        )
    return repo_id


def _p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def bench_search(workdir: Path) -> list[Figure]:
    from sqlmodel import Session

    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.intelligence.embeddings.providers import LOCAL_MODEL, local_vector
    from gitpulse_app.intelligence.embeddings.matrix import store_for
    from gitpulse_app.intelligence.embeddings.search import search_facts

    path = workdir / "search.db"
    migrate.upgrade(f"sqlite:///{path}")
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((VECTORS, 1024), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    repo_id = _seed(path, vectors)

    engine = create_db_engine(f"sqlite:///{path}")
    set_engine(engine)
    try:
        with Session(engine) as session:
            # The first search after start loads the matrix: timed apart (`search_first_ms`).
            started = time.perf_counter()
            search_facts(session, "warm up", repo_ids={repo_id})
            first_ms = round((time.perf_counter() - started) * 1000, 1)
            app: list[float] = []
            for run in range(RUNS):
                started = time.perf_counter()
                hits = search_facts(session, QUERIES[run % len(QUERIES)], repo_ids={repo_id})
                app.append(time.perf_counter() - started)
                session.rollback()
            assert len(hits) == 10
            store = store_for(session)
            matrix_mb = store.models[LOCAL_MODEL].nbytes / 1e6
            cache_mb = sum(entry.candidates.event_ids.nbytes + entry.candidates.keys.nbytes
                           + sum(rows.nbytes for _, _, rows in entry.rows.values())
                           for entry in store.candidates.values()) / 1e6
            recall = _recall_at_10(session, vectors, repo_id, search_facts, local_vector)
            bare: list[float] = []
            for run in range(RUNS):
                query = local_vector(QUERIES[run % len(QUERIES)])
                started = time.perf_counter()
                scores = vectors @ query
                top = np.argpartition(-scores, 10)[:10]
                top = top[np.argsort(-scores[top])]
                bare.append(time.perf_counter() - started)
    finally:
        set_engine(None)
        engine.dispose()
    app_p50, bare_p50 = _p50_ms(app), _p50_ms(bare)
    return [
        Figure("search_first_ms", first_ms, "ms"),
        Figure("search_100k_p50_ms", app_p50, "ms", "<= 150"),
        Figure("numpy_top10_100k_p50_ms", bare_p50, "ms"),
        Figure("search_vs_numpy_ratio", round(bare_p50 / app_p50, 3), "x", ">= 0.5"),
        Figure("search_matrix_mb_100k", round(matrix_mb, 1), "MB", "<= 120"),
        Figure("search_candidate_cache_mb", round(cache_mb, 1), "MB"),
        Figure("search_recall_at_10", round(recall, 4), "", ">= 0.99"),
    ]


def _recall_at_10(session, vectors: np.ndarray, repo_id: int, search, embed) -> float:
    """Share of the exact float32 top 10 (by a plain matmul) the app's search returns.

    Fact `i` was seeded with content hash `i` in hex and vector `vectors[i]`.
    """
    from sqlalchemy import select

    from gitpulse_app.core.models import Event

    found = 0
    for text in QUERIES:
        scores = vectors @ embed(text)
        exact = set(np.argsort(-scores, kind="stable")[:10].tolist())
        hits = search(session, text, repo_ids={repo_id})
        hashes = session.execute(select(Event.content_hash).where(
            Event.id.in_([hit.event_id for hit in hits]))).scalars()
        found += len(exact & {int(value, 16) for value in hashes})
        session.rollback()
    return found / (10 * len(QUERIES))


if __name__ == "__main__":
    import tempfile

    from bench.run import print_table

    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        print_table(bench_search(Path(tmp)))
