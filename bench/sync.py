"""Sync benchmark (issue 4): one backfill job against a fake GitHub on loopback.

`sync_items_per_s` = REST items a sync job turns into facts per second, through the real path —
claim, GitHub client over HTTP, the stages with their cursor heartbeats, canonicalizers, fact store
and embedding queue — over one repository served like a real one: 300 pull requests (100 per
page), each with its reviews listed (2 each, one `/pulls/{n}/reviews` request per pull request),
2,000 issues, 1,500 issue comments, 500 review comments and 1,000 commits. Half the pull requests
and every commit are by a signed-up user, so the job makes its detail requests (`/pulls/{n}`,
`/commits/{sha}`) up to the per-job cap of 200, as it would for a real team. The fake answers from
memory on 127.0.0.1, so the figure is our side's cost; the item count excludes the detail
responses (they replace list items, they add none).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from bench.run import Figure

ITEMS = {"pulls": 300, "reviews": 600, "issues": 2000, "issue_comments": 1500,
         "review_comments": 500, "commits": 1000}
REVIEWS_PER_PULL = 2
REPO = "bench/app"
TOKEN = "ghp_bench_token"
SIGNED_UP = ("Codertocat", 21031067)  # the fixtures' default author
OTHER_AUTHOR = ("contributor", 4244)


def _items(now: dt.datetime) -> dict[str, list[dict]]:
    from tests.support import payloads

    def at(n: int) -> str:
        return (now - dt.timedelta(minutes=5 * n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    html = f"https://github.com/{REPO}"
    api = f"https://api.github.com/repos/{REPO}"
    pulls = [payloads.rest_pull(
        n, id=3_000_000 + n, url=f"{api}/pulls/{n}", html_url=f"{html}/pull/{n}",
        created_at=at(n), updated_at=at(n),  # newest first, as `sort=updated` lists them
        user=payloads.user(*(SIGNED_UP if n % 2 else OTHER_AUTHOR)))
        for n in range(1, ITEMS["pulls"] + 1)]
    reviews = {pull["number"]: [payloads.rest_review(
        pull["number"], 4_000_000 + pull["number"] * 10 + k,
        html_url=f"{html}/pull/{pull['number']}#pullrequestreview-"
                 f"{4_000_000 + pull['number'] * 10 + k}",
        pull_request_url=f"{api}/pulls/{pull['number']}",
        submitted_at=at(pull["number"]), user=payloads.user(*OTHER_AUTHOR))
        for k in range(REVIEWS_PER_PULL)] for pull in pulls}
    issues = [payloads.rest_issue(n, id=n, html_url=f"{html}/issues/{n}", created_at=at(n),
                                  updated_at=at(n)) for n in range(1, ITEMS["issues"] + 1)]
    comments = [payloads.rest_issue_comment(
        n % 100 + 1, n, html_url=f"{html}/issues/{n % 100 + 1}#issuecomment-{n}",
        issue_url=f"{api}/issues/{n % 100 + 1}",
        created_at=at(n), updated_at=at(n)) for n in range(1, ITEMS["issue_comments"] + 1)]
    review_comments = [payloads.rest_review_comment(
        n % 50 + 1, n, html_url=f"{html}/pull/{n % 50 + 1}#discussion_r{n}",
        pull_request_url=f"{api}/pulls/{n % 50 + 1}",
        created_at=at(n), updated_at=at(n)) for n in range(1, ITEMS["review_comments"] + 1)]
    commits = []
    for n in range(1, ITEMS["commits"] + 1):
        sha = f"{n:040x}"
        commit = payloads.rest_commit(sha, html_url=f"{html}/commit/{sha}",
                                      url=f"{api}/commits/{sha}")
        commit["commit"]["author"]["date"] = at(n)
        commit["commit"]["message"] = f"Change number {n}"
        commits.append(commit)
    return {"pulls": pulls, "reviews": reviews, "issues": issues, "issue_comments": comments,
            "review_comments": review_comments, "commits": commits}


def _serve(fake, items: dict) -> None:
    """The repository's endpoints on the fake, lists paginated, details one per item."""
    from tests.support import payloads

    base = f"/repos/{REPO}"
    fake.add_json(base, payloads.rest_repo(id=4242, name="app", full_name=REPO,
                                           owner=payloads.user("bench", 4243)))
    fake.add_json(base + "/releases", [])
    fake.add_paginated(base + "/pulls", items["pulls"], per_page=100)
    for pull in items["pulls"]:
        number = pull["number"]
        fake.add_json(f"{base}/pulls/{number}", {**pull, **{
            k: v for k, v in payloads.rest_pull_detail(number).items() if k not in pull}})
        fake.add_paginated(f"{base}/pulls/{number}/reviews", items["reviews"][number])
    for endpoint, path in (("issues", "/issues"), ("issue_comments", "/issues/comments"),
                           ("review_comments", "/pulls/comments"), ("commits", "/commits")):
        fake.add_paginated(base + path, items[endpoint], per_page=100)
    for commit in items["commits"]:
        fake.add_json(f"{base}/commits/{commit['sha']}",
                      {**commit, "stats": {"additions": 3, "deletions": 1, "total": 4},
                       "files": [{"filename": "app.py", "additions": 3, "deletions": 1}]})


def bench_sync(workdir: Path) -> list[Figure]:
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — connects the embedding-queue receiver
    from gitpulse_app.acquisition.sync import request_sync, runner
    from gitpulse_app.acquisition.sync.sources import ensure_env_source
    from gitpulse_app.core import migrate
    from gitpulse_app.core.config import reload_settings
    from gitpulse_app.core.clock import utcnow
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.core.db import session_scope
    from gitpulse_app.core.models import User
    from tests.support import fake_http
    from tests.support.fake_github import FakeGitHub

    # The fake writes headers and body in two sends; with Nagle on, delayed ACKs would add ~40 ms
    # per page that no real server adds.
    fake_http._HTTPHandler.disable_nagle_algorithm = True
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
        _serve(fake, items)
        with session_scope() as session:  # the team member whose items get detail requests
            session.add(User(gh_id=SIGNED_UP[1], gh_login=SIGNED_UP[0], signed_up_at=now))
        source = ensure_env_source(REPO)
        result = request_sync(source.id, "manual", since=now - dt.timedelta(days=30),
                              repos=[REPO], cli=True)
        started = time.perf_counter()
        outcomes = runner.run_due_jobs()
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            facts = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
        total = sum(ITEMS.values())
        details = sum(1 for r in fake.requests if r.path.count("/") == 5
                      and r.path.split("/")[4] in ("pulls", "commits")
                      and not r.path.endswith("/comments"))
        if outcomes != ["completed"] or facts < total or not result.started:
            raise RuntimeError(f"sync benchmark ended {outcomes} with {facts} of {total} facts")
        if details == 0:
            raise RuntimeError("the sync benchmark made no detail request")
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
    return [Figure("sync_items_per_s", round(total / elapsed), "items/s"),
            Figure("sync_detail_requests", details, "n")]


if __name__ == "__main__":
    import tempfile

    from bench.run import print_table

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        print_table(bench_sync(Path(tmp)))
