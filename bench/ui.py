"""Page-load benchmarks (issue 9) on a migrated SQLite file.

The workload: one signed-up user (zone America/Chicago, so local dates cross DST changes) who is
the actor of 100,000 facts over the last 365 days in 5 repositories of one App installation, with
20,000 more facts by 10 teammates, and 400 reports.

- `dashboard_query_100k_ms` — p50 of every query behind /dashboard: KPIs, the 14-day chart, the
  TL;DR, the latest reports, the sync status of each source, the integration status and the
  unread count (target ≤ 150 ms).
- `timeline_page_100k_ms` — p50 of one 50-row timeline page, taken for the slowest of several
  filter combinations (none; two types; one repository; one person and 30 local days; the user
  over all time; the user's commits from the 20th page on; a rare type in a range far back; the
  20th page by cursor) (target ≤ 100 ms).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.run import Figure

OWN_FACTS = 100_000
TEAM_FACTS = 20_000
REPOS = 5
TEAMMATES = 10
REPORTS = 400
DAYS = 365
RUNS = 21
ZONE = "America/Chicago"
TYPES = (
    ("commit", 50), ("pr_opened", 10), ("pr_merged", 8), ("review_submitted", 10),
    ("review_comment", 5), ("issue_opened", 5), ("issue_closed", 4), ("issue_comment", 7),
    ("release", 1),
)
_STAMP = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime(_STAMP)


def seed(path: Path, now: dt.datetime) -> int:
    """Fill a migrated database with the workload; returns the user's id."""
    rng = random.Random(9)
    created = _stamp(now)
    kinds = [name for name, weight in TYPES for _ in range(weight)]
    with sqlite3.connect(path) as conn:
        logins = ["me"] + [f"mate{n}" for n in range(TEAMMATES)]
        conn.executemany(
            "INSERT INTO users (gh_id, gh_login, timezone, daily_reports_enabled, "
            "weekly_reports_enabled, email_reports_enabled, week_start_day, is_demo, signed_up_at, "
            "onboarding_completed_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, 1, 1, 0, 0, ?, ?, ?, ?)",
            [(100 + i, login, ZONE, created, created, created, created)
             for i, login in enumerate(logins)])
        ids = [row[0] for row in conn.execute("SELECT id FROM users ORDER BY id")]
        me, mates = ids[0], ids[1:]
        names = [f"acme/service-{n}" for n in range(REPOS)]
        conn.executemany(
            "INSERT INTO repos (gh_id, full_name, owner, name, is_private, is_fork, is_archived, "
            "etags, created_at, updated_at) VALUES (?, ?, 'acme', ?, 0, 0, 0, '{}', ?, ?)",
            [(900 + n, name, name.split("/")[1], created, created) for n, name in enumerate(names)])
        repo_ids = [row[0] for row in conn.execute("SELECT id FROM repos ORDER BY id")]
        conn.execute(
            "INSERT INTO installations (gh_installation_id, kind, account_login, repositories, "
            "status, sync_status, last_synced_at, recovery_attempts, created_at, updated_at) "
            "VALUES (77, 'app', 'acme', ?, 'active', 'idle', ?, 0, ?, ?)",
            ("[" + ", ".join(f'"{name}"' for name in names) + "]", created, created, created))
        installation = conn.execute("SELECT id FROM installations").fetchone()[0]
        conn.execute(
            "INSERT INTO user_installations (user_id, installation_id, role, claimed_at, "
            "created_at, updated_at) VALUES (?, ?, 'owner', ?, ?, ?)",
            (me, installation, created, created, created))
        events = []
        span = DAYS * 86_400
        for n in range(OWN_FACTS + TEAM_FACTS):
            actor = me if n < OWN_FACTS else mates[n % TEAMMATES]
            kind = kinds[rng.randrange(len(kinds))]
            ts = _stamp(now - dt.timedelta(seconds=rng.randrange(span)))
            url = f"https://github.com/{names[n % REPOS]}/{kind}/{n}"
            events.append((kind, repo_ids[n % REPOS], actor, installation, ts,
                           f"{kind} number {n} by someone", url,
                           hashlib.sha256(url.encode()).hexdigest(), created, created))
        conn.executemany(
            "INSERT INTO events (type, repo_id, actor_id, installation_id, ts, canonical_text, "
            "source_url, metadata, content_hash, observed_via, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, 'backfill', ?, ?)", events)
        reports = []
        for n in range(REPORTS):
            start = now - dt.timedelta(days=n + 1)
            reports.append((me, _stamp(start), _stamp(start + dt.timedelta(days=1)),
                            f"Daily Standup {n}", '[{"title": "Work Completed", "bullets": '
                            '["Shipped a", "Fixed b", "Reviewed c", "Merged d"]}]',
                            f"{n:064x}", None if n % 3 else created, created, created, created))
        conn.executemany(
            "INSERT INTO reports (user_id, kind, schedule_type, origin, start_date, end_date, "
            "timezone, scope_logins, title, description, sections, markdown, html, citations, "
            "repos, prompt_version, provider, model, cache_key, coverage_breakdown, event_count, "
            "citation_count, expected_citations, is_partial, is_stale, opened_at, generated_at, "
            "created_at, updated_at) VALUES (?, 'daily', 'daily', 'scheduled', ?, ?, 'UTC', '[]', "
            "?, '', ?, '', '', '[]', '[]', 'py-v1', 'local', 'local-extractive-v1', ?, '[]', 3, 3, "
            "3, 0, 0, ?, ?, ?, ?)", reports)
    return me


def _p50_ms(work: Callable[[], object], runs: int = RUNS) -> float:
    work()  # warm caches and connections
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2)


def bench_ui(workdir: Path) -> list[Figure]:
    from gitpulse_app.acquisition.sync.status import integration_status, sync_statuses_for_user
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine
    from gitpulse_app.intelligence.analytics import dashboard_data
    from gitpulse_app.intelligence.delivery.status import unread_count
    from gitpulse_app.intelligence.timeline import TimelineFilters, load_timeline_page

    path = workdir / "ui.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    now = dt.datetime.now(dt.UTC)
    user_id = seed(path, now)
    engine = create_db_engine(url)
    set_engine(engine)
    try:
        def dashboard() -> None:
            dashboard_data(user_id, now)
            sync_statuses_for_user(user_id, github_url="https://github.com", now=now)
            integration_status(user_id, now)
            unread_count(user_id)

        dashboard_ms = _p50_ms(dashboard)

        today = now.date()
        deep_cursor = None
        for _ in range(19):
            deep_cursor = load_timeline_page(user_id, TimelineFilters(), ZONE,
                                             deep_cursor).next_cursor
        variants = {
            "none": (TimelineFilters(), None),
            "two types": (TimelineFilters(types=("pr_opened", "pr_merged")), None),
            "one repo": (TimelineFilters(repo="acme/service-3"), None),
            "person, 30 days": (TimelineFilters(actor_id=user_id + 4,
                                                start_date=today - dt.timedelta(days=29),
                                                end_date=today), None),
            "me, all time": (TimelineFilters(actor_id=user_id), None),
            "me, commits, page 20 of all": (TimelineFilters(actor_id=user_id, types=("commit",)),
                                            deep_cursor),
            "release, far back": (TimelineFilters(types=("release",),
                                                  start_date=today - dt.timedelta(days=300),
                                                  end_date=today - dt.timedelta(days=200)), None),
            "page 20": (TimelineFilters(), deep_cursor),
        }
        timings = {
            name: _p50_ms(lambda f=filters, c=cursor: load_timeline_page(user_id, f, ZONE, c))
            for name, (filters, cursor) in variants.items()
        }
        for name, value in timings.items():
            print(f"  timeline page ({name}): {value} ms", file=sys.stderr)
    finally:
        set_engine(None)
        engine.dispose()
    return [
        Figure("dashboard_query_100k_ms", dashboard_ms, "ms", "<= 150"),
        Figure("timeline_page_100k_ms", max(timings.values()), "ms", "<= 100"),
    ]


if __name__ == "__main__":
    import os
    import tempfile

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-ui-") as tmp:
        for figure in bench_ui(Path(tmp)):
            print(figure)
