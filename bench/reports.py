"""Report benchmarks (issue 6).

- `report_local_500_facts_ms`: a weekly report over a week of 500 facts written by the local writer
  (the whole pipeline, cache bypassed), median of 5 runs; target ≤ 1,000 ms.
- `report_cache_hit_ms`: the same request answered from the cache, median of 30; target ≤ 50 ms.
- `report_llm_overhead_ms`: everything but the model call — the pipeline's latency minus the time
  spent waiting for a fake OpenAI-compatible server (real HTTP on 127.0.0.1) that answers at once,
  median of 5 runs over the same 500 facts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.run import Figure

FACTS = 500
REPOS = 5
_EVENT_URL = re.compile(r"\[(https?://[^\]\s]+)\]$")
_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GITPULSE_LLM_MODEL", "GITPULSE_LLM_FALLBACK_MODEL")


def _seed(url: str) -> tuple[int, dt.datetime, dt.datetime]:
    """A user who sees 5 repositories with 500 facts of theirs in one Monday-to-Sunday week."""
    from sqlmodel import Session

    from gitpulse_app.core.db import get_engine
    from gitpulse_app.core.models import Installation, Repo, User, UserInstallation
    from gitpulse_app.intelligence.windows import week_window
    from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
    from gitpulse_app.normalization.store import ingest_facts

    week = week_window(dt.date(2025, 12, 1), "America/Chicago")
    with Session(get_engine(), expire_on_commit=False) as session:
        user = User(gh_id=1, gh_login="alice", timezone="America/Chicago")
        repos = [Repo(gh_id=100 + n, full_name=f"acme/service-{n}", owner="acme",
                      name=f"service-{n}") for n in range(REPOS)]
        session.add_all([user, *repos])
        session.commit()
        installation = Installation(kind="app", gh_installation_id=7, account_login="acme",
                                    repositories=[repo.full_name for repo in repos],
                                    repository_ids=[repo.gh_id for repo in repos])
        session.add(installation)
        session.commit()
        session.add(UserInstallation(user_id=user.id, installation_id=installation.id,
                                     role="owner"))
        session.commit()
    kinds = ["commit", "pr_opened", "pr_merged", "review_submitted", "issue_comment",
             "issue_closed", "commit", "commit"]
    facts = []
    for n in range(FACTS):
        repo = repos[n % REPOS]
        ref = RepoRef(gh_id=repo.gh_id, full_name=repo.full_name, owner="acme", name=repo.name,
                      raw={"id": repo.gh_id, "full_name": repo.full_name, "name": repo.name,
                           "owner": {"login": "acme"}})
        kind = kinds[n % len(kinds)]
        base = f"https://github.com/{repo.full_name}"
        if kind == "commit":
            sha = f"{n:040x}"
            url, meta = f"{base}/commit/{sha}", {"sha": sha, "message": f"Handle edge case #{n}"}
        elif kind == "review_submitted":
            url, meta = f"{base}/pull/{n}#pullrequestreview-{n}", {"pr_number": n,
                                                                   "state": "approved"}
        elif kind == "issue_comment":
            url, meta = f"{base}/issues/{n}#issuecomment-{n}", {"issue_number": n, "body": "ok"}
        elif kind == "issue_closed":
            url, meta = f"{base}/issues/{n}", {"issue_number": n, "title": f"Bug {n}"}
        else:
            url, meta = f"{base}/pull/{n}", {"number": n, "title": f"Feature {n}"}
        facts.append(NormalizedFact(
            type=kind, repo=ref, actor=ActorRef(gh_id=1, login="alice"),
            ts=week.start + dt.timedelta(minutes=19 * n + 1), source_url=url,
            metrics=Metrics(n % 50, n % 7, 1 + n % 4), metadata=meta))
    ingest_facts(facts, observed_via="backfill")
    return user.id, week.start, week.end


def _answer(body: dict) -> dict:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    urls = [found.group(1) for line in prompt.splitlines()
            if line.startswith("- **") and (found := _EVENT_URL.search(line))]
    bullets = ["Also completed: " + ", ".join(f"[#{n}]({url})" for n, url in
                                               enumerate(urls[i::5], 1)) for i in range(5)]
    content = json.dumps({"sections": [
        {"title": "Accomplishments", "bullets": bullets, "citations": urls},
        {"title": "Technical Insights", "bullets": ["No activity recorded"], "citations": []},
    ]})
    return {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": 0}}


class _InstantLLM(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        payload = json.dumps(_answer(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def _instant_llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _InstantLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    from gitpulse_app.core.config import reload_settings

    saved = {name: os.environ.get(name) for name in _ENV}
    try:
        for name in _ENV:
            os.environ.pop(name, None)
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        reload_settings()
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reload_settings()


def bench_reports(workdir: Path) -> list[Figure]:
    import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — the staleness receiver, as in a backend
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.intelligence.reports.service import generate_report

    url = f"sqlite:///{workdir / 'reports.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    now = dt.datetime(2025, 12, 10, 15, tzinfo=dt.UTC)
    try:
        with _environment():
            user_id, start, end = _seed(url)
            local = []
            for _ in range(5):
                started = time.perf_counter()
                outcome = generate_report(user_id, "weekly", start, end, now=now,
                                          use_cache=False)
                local.append((time.perf_counter() - started) * 1000)
            if outcome.report is None or outcome.report.event_count != FACTS:
                raise RuntimeError("the local report did not cover the 500 facts")
            hits = []
            for _ in range(30):
                started = time.perf_counter()
                outcome = generate_report(user_id, "weekly", start, end, now=now)
                hits.append((time.perf_counter() - started) * 1000)
                if not outcome.cache_hit:
                    raise RuntimeError("the repeated report was not a cache hit")
        overhead = []
        with _instant_llm() as base_url, _environment(OPENAI_API_KEY="sk-bench",
                                                      OPENAI_BASE_URL=base_url):
            for _ in range(5):
                started = time.perf_counter()
                outcome = generate_report(user_id, "weekly", start, end, now=now,
                                          use_cache=False, sleep=lambda _s: None)
                overhead.append((time.perf_counter() - started) * 1000 - outcome.model_ms)
            if outcome.report is None or outcome.report.provider != "openai":
                raise RuntimeError("the fake model's answer was not used")
    finally:
        set_engine(None)
        engine.dispose()
    return [
        Figure("report_local_500_facts_ms", round(statistics.median(local), 1), "ms", "<= 1000"),
        Figure("report_cache_hit_ms", round(statistics.median(hits), 2), "ms", "<= 50"),
        Figure("report_llm_overhead_ms", round(statistics.median(overhead), 1), "ms"),
    ]
