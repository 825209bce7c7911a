"""Sync benchmark (issue 4): one backfill job against a fake GitHub on loopback.

`sync_items_per_s` = REST items a sync job turns into facts per second: 5,000 items over the list
endpoints of one repository (issues, issue comments, review comments, commits), 100 per page, so
50 pages, through the real path — claim, GitHub client over HTTP, the stages with their cursor
heartbeats, canonicalizers, fact store and embedding queue. The fake answers from memory on
127.0.0.1, so the figure is our side's cost.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from bench.run import Figure

ITEMS = {"issues": 2000, "issue_comments": 1500, "review_comments": 500, "commits": 1000}
REPO = "bench/app"
TOKEN = "ghp_bench_token"


def _items(now: dt.datetime) -> dict[str, list[dict]]:
    from tests.support import payloads

    def at(n: int) -> str:
        return (now - dt.timedelta(minutes=5 * n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    html = f"https://github.com/{REPO}"
    issues = [payloads.rest_issue(n, id=n, html_url=f"{html}/issues/{n}", created_at=at(n),
                                  updated_at=at(n)) for n in range(1, ITEMS["issues"] + 1)]
    comments = [payloads.rest_issue_comment(
        n % 100 + 1, n, html_url=f"{html}/issues/{n % 100 + 1}#issuecomment-{n}",
        issue_url=f"https://api.github.com/repos/{REPO}/issues/{n % 100 + 1}",
        created_at=at(n), updated_at=at(n)) for n in range(1, ITEMS["issue_comments"] + 1)]
    review_comments = [payloads.rest_review_comment(
        n % 50 + 1, n, html_url=f"{html}/pull/{n % 50 + 1}#discussion_r{n}",
        pull_request_url=f"https://api.github.com/repos/{REPO}/pulls/{n % 50 + 1}",
        created_at=at(n), updated_at=at(n)) for n in range(1, ITEMS["review_comments"] + 1)]
    commits = []
    for n in range(1, ITEMS["commits"] + 1):
        commit = payloads.rest_commit(f"{n:040x}")
        commit["commit"]["author"]["date"] = at(n)
        commit["commit"]["message"] = f"Change number {n}"
        commits.append(commit)
    return {"issues": issues, "issue_comments": comments, "review_comments": review_comments,
            "commits": commits}


def bench_sync(workdir: Path) -> list[Figure]:
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — connects the embedding-queue receiver
    from gitpulse_app.acquisition.sync import request_sync, runner
    from gitpulse_app.acquisition.sync.sources import ensure_env_source
    from gitpulse_app.core import migrate
    from gitpulse_app.core.config import reload_settings
    from gitpulse_app.core.db import create_db_engine, set_engine, utcnow
    from tests.support import fakeserver, payloads
    from tests.support.fake_github import FakeGitHub

    # The fake writes headers and body in two sends; with Nagle on, delayed ACKs would add ~40 ms
    # per page that no real server adds.
    fakeserver._HTTPHandler.disable_nagle_algorithm = True
    now = utcnow()
    items = _items(now)
    fake = FakeGitHub().start()
    saved = {name: os.environ.get(name) for name in ("GITHUB_API_URL", "GITHUB_TOKEN")}
    url = f"sqlite:///{workdir / 'sync.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    try:
        os.environ.update(GITHUB_API_URL=fake.url, GITHUB_TOKEN=TOKEN)
        reload_settings()
        set_engine(engine)
        base = f"/repos/{REPO}"
        fake.add_json(base, payloads.rest_repo(id=4242, name="app", full_name=REPO,
                                               owner=payloads.user("bench", 4243)))
        for path in ("/pulls", "/releases"):
            fake.add_json(base + path, [])
        for endpoint, path in (("issues", "/issues"), ("issue_comments", "/issues/comments"),
                               ("review_comments", "/pulls/comments"), ("commits", "/commits")):
            fake.add_paginated(base + path, items[endpoint], per_page=100)
        source = ensure_env_source(REPO)
        result = request_sync(source.id, "manual", since=now - dt.timedelta(days=30),
                              repos=[REPO], cli=True)
        started = time.perf_counter()
        outcomes = runner.run_due_jobs()
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            facts = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
        total = sum(ITEMS.values())
        if outcomes != ["completed"] or facts != total or not result.started:
            raise RuntimeError(f"sync benchmark ended {outcomes} with {facts} of {total} facts")
    finally:
        fake.stop()
        set_engine(None)
        engine.dispose()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reload_settings()
    return [Figure("sync_items_per_s", round(total / elapsed), "items/s")]
