"""API and Ask benchmarks (issue "GitPulse as a source of truth", docs/API.md).

`api_search_p50_ms`: `GET /api/v1/search` over real HTTP with a bearer token, against the standalone
backend in its own process, on 100,000 stored facts with their vectors (the search benchmark's
seed). `ask_local_p50_ms`: a whole Ask without a model key — retrieval (semantic search plus the
names in the question) and the validated extractive answer — in-process on the same database.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
import numpy as np

from bench.run import Figure

FACTS = 100_000
# The seed's newest fact is at 2025-12-01 00:00 UTC; "yesterday" and "last week" are read from here.
NOW = dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
RUNS = 31  # under the 120 requests a minute each token may make
QUESTIONS = ["What changed in the handler last week?", "Which tests did alice adjust?",
             "What happened in acme/app in November 2025?", "What did alice ship yesterday?"]
QUERIES = ["auth bug in login", "flaky test on CI", "export timeline csv", "dark mode theme"]


def _p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _grant(repo_id: int) -> tuple[int, str]:
    """alice sees acme/app through an App source; returns her id and a read token."""
    from gitpulse_app.core.db import session_scope
    from gitpulse_app.core.models import Installation, Repo, User, UserInstallation
    from gitpulse_app.experience.auth.api_tokens import create_token

    with session_scope() as session:
        user_id = session.scalar(sa.select(User.id).where(User.gh_login == "alice"))
        repo = session.get(Repo, repo_id)
        # Visibility is by GitHub repository id (docs/VISIBILITY.md).
        source = Installation(kind="app", gh_installation_id=1, account_login="acme",
                              repositories=[repo.full_name], repository_ids=[repo.gh_id])
        session.add(source)
        session.flush()
        session.add(UserInstallation(user_id=user_id, installation_id=source.id, role="owner"))
    return user_id, create_token(user_id, "bench", "read").token


def bench_api(workdir: Path, facts: int = FACTS) -> list[Figure]:
    from bench.embeddings import _seed
    from bench.server import serve_api
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.intelligence.ask import ask

    path = workdir / "api.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    rng = np.random.default_rng(19)
    vectors = rng.standard_normal((facts, 1024), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    repo_id = _seed(path, vectors)
    del vectors

    engine = create_db_engine(url)
    set_engine(engine)
    try:
        user_id, token = _grant(repo_id)
        ask(user_id, "warm up", now=NOW)  # loads the vector matrix once, as a running backend has
        local: list[float] = []
        for run in range(RUNS):
            started = time.perf_counter()
            answer = ask(user_id, QUESTIONS[run % len(QUESTIONS)], now=NOW)
            local.append(time.perf_counter() - started)
            assert answer.citations, "the extractive answer cites its facts"
    finally:
        set_engine(None)
        engine.dispose()

    headers = {"Authorization": f"Bearer {token}"}
    with serve_api(url) as base, httpx.Client(base_url=base, headers=headers,
                                               timeout=120) as client:
        assert client.get("/api/v1/search", params={"q": "warm up"}).status_code == 200
        remote: list[float] = []
        for run in range(RUNS):
            started = time.perf_counter()
            response = client.get("/api/v1/search", params={"q": QUERIES[run % len(QUERIES)]})
            remote.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.json()["results"]
    return [
        Figure("api_search_p50_ms", _p50_ms(remote), "ms", "<= 250"),
        Figure("ask_local_p50_ms", _p50_ms(local), "ms", "<= 500"),
    ]


if __name__ == "__main__":
    import sys
    import tempfile

    from bench.run import print_table

    size = int(sys.argv[1]) if len(sys.argv) > 1 else FACTS
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-api-") as tmp:
        print_table(bench_api(Path(tmp), size))
