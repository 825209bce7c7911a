"""Compact search (docs/SEARCH_MEMORY.md): int8 rows with exact rescoring, and candidate lists
cached per scope until the fact version moves — in this process or another one."""

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.fact_versions import fact_version
from gitpulse_app.core.models import Event
from gitpulse_app.intelligence.embeddings import search_facts
from gitpulse_app.intelligence.embeddings.providers import LOCAL_MODEL, local_vector
from gitpulse_app.intelligence.embeddings.matrix import store_for
from gitpulse_app.intelligence.embeddings.search import _scope
from tests.intelligence.embeddings.conftest import make_facts, make_repo, make_user

ROOT = Path(__file__).resolve().parents[3]
QUERIES = [f"query {n}: flaky login test after the auth refactor" for n in range(12)]


def _store_vectors(engine, repo_id: int, actor_id: int, vectors: np.ndarray) -> list[str]:
    now = "2025-12-01T00:00:00.000000+00:00"
    hashes = [f"{i:064x}" for i in range(len(vectors))]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (type, repo_id, actor_id, ts, canonical_text, source_url, metadata, "
            "content_hash, observed_via, created_at, updated_at) "
            "VALUES ('commit', ?, ?, ?, ?, ?, '{}', ?, 'backfill', ?, ?)",
            [(repo_id, actor_id, now, f"fact {i}", f"https://github.com/x/y/commit/{i}",
              hashes[i], now, now) for i in range(len(vectors))],
        )
        conn.exec_driver_sql(
            "INSERT INTO embeddings (content_hash, provider, model, dimensions, vector, created_at, "
            "updated_at) VALUES (?, 'local', ?, 1024, ?, ?, ?)",
            [(hashes[i], LOCAL_MODEL, vectors[i].tobytes(), now, now)
             for i in range(len(vectors))],
        )
    return hashes


def test_recall_at_10_against_exact_float32_on_crowded_neighbourhoods(session, engine):
    # Around every query, 150 close vectors (many nearly tied), in 8,000 random ones.
    rng = np.random.default_rng(11)
    noise = rng.standard_normal((8_000 + 150 * len(QUERIES), 1024), dtype=np.float32)
    near = np.repeat(np.stack([local_vector(q) for q in QUERIES]), 150, axis=0)
    vectors = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    vectors[8_000:] = near + 0.03 * noise[8_000:]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    repo, actor = make_repo(session), make_user(session)
    hashes = _store_vectors(engine, repo.id, actor.id, vectors)
    index_of = {event_id: hashes.index(h) for h, event_id in
                session.execute(sa.select(Event.content_hash, Event.id)).all()}

    found = 0
    for query in QUERIES:
        hits = search_facts(session, query, repo_ids={repo.id})
        exact = vectors @ local_vector(query)
        best = np.argsort(-exact, kind="stable")[:10]
        got = [index_of[hit.event_id] for hit in hits]
        found += len(set(got) & set(best.tolist()))
        # Scores are the exact float32 cosines, not the int8 approximations.
        assert [hit.score for hit in hits] == pytest.approx(exact[got].tolist(), abs=1e-6)

    assert found / (10 * len(QUERIES)) >= 0.99
    matrix = store_for(session).models[LOCAL_MODEL]
    assert matrix.codes.dtype == np.int8
    assert matrix.nbytes < matrix.count * 1024 * 4 / 3  # under a third of float32


def test_the_cached_candidates_serve_until_a_fact_is_written_in_this_process(session):
    repo = make_repo(session)
    first = make_facts(session, ["auth bug one", "dark mode toggle"], repo=repo)[0]
    search_facts(session, "auth bug", repo_ids={repo.id})
    store, scope = store_for(session), _scope({repo.id}, None, None, None, None, None)
    entry, version = store.candidates[scope], fact_version(session)

    assert search_facts(session, "auth bug", repo_ids={repo.id})[0].event_id == first.id
    assert store.candidates[scope] is entry  # nothing written: the same list, not re-read

    second = make_facts(session, ["auth bug two"], repo=repo)[0]
    assert fact_version(session) > version
    hits = search_facts(session, "auth bug two", repo_ids={repo.id})

    assert hits[0].event_id == second.id
    assert store.candidates[scope] is not entry


def test_an_update_of_a_fact_through_sql_moves_the_version_and_is_searched(session):
    repo = make_repo(session)
    facts = make_facts(session, ["auth bug one", "dark mode toggle"], repo=repo)
    search_facts(session, "auth bug", repo_ids={repo.id})
    version = fact_version(session)

    session.execute(sa.update(Event).where(Event.id == facts[1].id).values(
        canonical_text="Speed up chart rendering", content_hash="c" * 64,
        meta={"sha": "c" * 40, "message": "Speed up chart rendering"}))
    session.commit()

    assert fact_version(session) == version + 1
    hits = search_facts(session, "speed up chart rendering", repo_ids={repo.id})
    assert hits[0].event_id == facts[1].id


def test_a_fact_written_by_another_process_is_found_by_the_next_search(sqlite_file_engine):
    url = sqlite_file_engine.url.render_as_string(hide_password=False)
    with Session(sqlite_file_engine, expire_on_commit=False) as session:
        repo, actor = make_repo(session), make_user(session)
        make_facts(session, ["dark mode toggle", "README badges"], repo=repo, actor=actor)
        search_facts(session, "auth bug", repo_ids={repo.id})
        session.commit()
        version = fact_version(session)

        writer = textwrap.dedent(f"""
            import datetime as dt
            import sqlalchemy as sa
            from sqlmodel import Session
            from gitpulse_app.core.db import create_db_engine
            from gitpulse_app.core.models import Event
            engine = create_db_engine({url!r})
            with Session(engine) as session:
                session.add(Event(
                    type="commit", repo_id={repo.id}, actor_id={actor.id},
                    ts=dt.datetime(2025, 12, 2, tzinfo=dt.UTC),
                    canonical_text="Fix the auth bug in login",
                    source_url="https://github.com/acme/app/commit/{'a' * 40}",
                    meta={{}}, content_hash="{'d' * 64}", observed_via="webhook"))
                session.commit()
                print(session.scalars(sa.select(Event.id)
                                      .where(Event.content_hash == "{'d' * 64}")).one())
        """)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
        env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "search-test"}
        result = subprocess.run([sys.executable, "-c", writer], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        written = int(result.stdout.strip())

        assert fact_version(session) > version
        hits = search_facts(session, "auth bug in login", repo_ids={repo.id})
        assert hits[0].event_id == written


def test_ingested_facts_move_the_version_and_a_duplicate_does_not(session):
    from gitpulse_app.normalization.store import ingest_facts
    from tests.intelligence.reports.conftest import pr

    repo, user = make_repo(session), make_user(session, "alice")
    before = fact_version(session)
    fact = pr(repo, user, 7, "Fix the auth bug", dt.datetime(2025, 12, 3, tzinfo=dt.UTC))
    ingest_facts([fact], observed_via="webhook")
    after_insert = fact_version(session)
    ingest_facts([fact], observed_via="webhook")  # the same observation again: no fact written

    assert after_insert > before
    assert fact_version(session) == after_insert


def test_the_version_moves_with_committed_fact_writes_only(any_engine):
    with Session(any_engine, expire_on_commit=False) as session:
        repo, actor = make_repo(session), make_user(session)
        before = fact_version(session)
        fact = make_facts(session, ["auth bug"], repo=repo, actor=actor)[0]
        committed = fact_version(session)

        session.execute(sa.update(Event).where(Event.id == fact.id).values(
            canonical_text="rolled back"))
        session.rollback()
        repo.name = "renamed"  # a write that is not a fact
        session.commit()

        assert committed == before + 1
        assert fact_version(session) == committed
