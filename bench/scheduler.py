"""Scheduler benchmarks (issue 7): the cost of a tick.

- `tick_10k_users_ms` — one whole `run_tick` over 10,000 onboarded users in 40 zones with every
  daily and weekly report already made, so none is due (target ≤ 500 ms; median of 5 ticks);
  valid only when no step of those ticks failed (`tick_10k_users_failed_steps` = 0, else the
  figure is -1 and `make bench` fails);
- `tick_1k_due_local_ms` — one whole `run_tick` in which 1,000 users are each owed yesterday's
  report, written by the local writer from two facts each.

Both run on a migrated SQLite file with no provider keys.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import sqlalchemy as sa

from bench.run import Figure
from bench.stats import median

USERS_NONE_DUE = 10_000
USERS_DUE = 1_000
TICKS = 5
# Monday 2025-12-08 12:00Z: not a daily slot (02:15, 03:45, 04:30), every zone past midnight.
AT = dt.datetime(2025, 12, 8, 12, 0, tzinfo=dt.UTC)
ONBOARDED = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
ZONES = [
    "UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Helsinki", "Europe/Moscow",
    "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon",
    "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney",
    "Pacific/Auckland", "Pacific/Chatham", "Pacific/Kiritimati", "Pacific/Honolulu",
    "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Phoenix",
    "America/Chicago", "America/New_York", "America/Halifax", "America/St_Johns",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Santiago", "America/Bogota",
    "America/Mexico_City", "Atlantic/Azores", "Africa/Lagos", "Africa/Cairo", "Africa/Nairobi",
    "Asia/Tehran", "Australia/Eucla",
]


def _use_database(url: str) -> sa.Engine:
    from gitpulse_app.core import migrate
    from gitpulse_app.core.db import create_db_engine, set_engine

    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    return engine


def _user_rows(count: int, *, daily_enabled_at: dt.datetime | None = None,
               weekly: bool = True) -> list[dict]:
    return [{
        "gh_id": 1_000_000 + n, "gh_login": f"user{n}", "timezone": ZONES[n % len(ZONES)],
        "daily_reports_enabled": True, "weekly_reports_enabled": weekly,
        "email_reports_enabled": True, "daily_enabled_at": daily_enabled_at,
        "weekly_enabled_at": None, "week_start_day": n % 7, "onboarding_completed_at": ONBOARDED,
        # Half work Monday to Friday (their Monday windows hold the weekend), half every day.
        "work_days": "12345" if n % 2 else "1234567",
        "signed_up_at": ONBOARDED, "is_demo": False, "created_at": ONBOARDED,
        "updated_at": ONBOARDED,
    } for n in range(count)]


def _report_row(user_id: int, kind: str, zone: str, start: dt.datetime, end: dt.datetime) -> dict:
    return {
        "user_id": user_id, "kind": kind, "schedule_type": kind, "origin": "scheduled",
        "start_date": start, "end_date": end, "timezone": zone, "scope_logins": [],
        "title": "Report", "description": "Auto-generated report", "sections": [],
        "markdown": "", "html": "", "citations": [], "repos": [], "prompt_version": "py-v1",
        "provider": "none", "model": "none", "generated_at": end, "cache_key": "0" * 64,
        "coverage_breakdown": [], "event_count": 0, "citation_count": 0,
        "expected_citations": 0, "is_partial": False, "is_stale": False,
        "created_at": end, "updated_at": end,
    }


def _seed_none_due(engine: sa.Engine) -> None:
    """10,000 users whose seven last days and last week all have a final report."""
    from gitpulse_app.core.models import Report, User
    from gitpulse_app.intelligence.scheduler.due import Calendar

    calendar = Calendar(AT)
    users = _user_rows(USERS_NONE_DUE)
    with engine.begin() as conn:
        conn.execute(sa.insert(User.__table__), users)
        ids = conn.execute(sa.select(User.id).order_by(User.id)).scalars().all()
        reports = []
        for user_id, user in zip(ids, users, strict=True):
            zone = user["timezone"]
            for window in calendar.days(zone, user["work_days"]):
                reports.append(_report_row(user_id, "daily", zone, window.start, window.end))
            week = calendar.week(zone, user["week_start_day"])
            reports.append(_report_row(user_id, "weekly", zone, week.start, week.end))
        conn.execute(sa.insert(Report.__table__), reports)


def _seed_due(engine: sa.Engine) -> None:
    """1,000 users, each owed only their last work day's report, with two facts in it."""
    import gitpulse_app.intelligence.embeddings  # noqa: F401 — queues the facts' embeddings
    from gitpulse_app.core.models import Installation, Repo, User, UserInstallation
    from gitpulse_app.intelligence.embeddings import drain
    from gitpulse_app.intelligence.scheduler.due import Calendar
    from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
    from gitpulse_app.normalization.store import ingest_facts

    calendar = Calendar(AT)
    # Only yesterday is inside every user's catch-up horizon: it opened a day before it ended.
    users = _user_rows(USERS_DUE, weekly=False)
    for user in users:
        yesterday = calendar.days(user["timezone"], user["work_days"])[-1]
        user["daily_enabled_at"] = yesterday.end - dt.timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(sa.insert(User.__table__), users)
        ids = conn.execute(sa.select(User.id).order_by(User.id)).scalars().all()
        conn.execute(sa.insert(Repo.__table__), [{
            "gh_id": 77, "full_name": "acme/app", "owner": "acme", "name": "app",
            "is_private": False, "is_fork": False, "is_archived": False, "etags": {},
            "created_at": ONBOARDED, "updated_at": ONBOARDED}])
        installation_id = conn.execute(sa.insert(Installation.__table__).values(
            kind="app", gh_installation_id=77, account_login="acme", repositories=["acme/app"],
            repository_ids=[77],
            status="active", sync_status="idle", recovery_attempts=0,
            last_reconciled_at=AT, last_synced_at=AT,
            created_at=ONBOARDED, updated_at=ONBOARDED)).inserted_primary_key[0]
        conn.execute(sa.insert(UserInstallation.__table__), [{
            "user_id": user_id, "installation_id": installation_id, "role": "viewer",
            "claimed_at": ONBOARDED, "created_at": ONBOARDED, "updated_at": ONBOARDED}
            for user_id in ids])
    repo = RepoRef(gh_id=77, full_name="acme/app", owner="acme", name="app",
                   raw={"id": 77, "full_name": "acme/app"})
    facts = []
    for user in users:
        yesterday = calendar.days(user["timezone"], user["work_days"])[-1]
        actor = ActorRef(gh_id=user["gh_id"], login=user["gh_login"])
        for hour in (3, 15):
            number = len(facts) + 1
            facts.append(NormalizedFact(
                type="pr_merged", repo=repo, actor=actor,
                ts=yesterday.start + dt.timedelta(hours=hour),
                source_url=f"https://github.com/acme/app/pull/{number}",
                metadata={"number": number, "title": f"Change {number}", "state": "closed"}))
    ingest_facts(facts, observed_via="backfill", now=ONBOARDED)
    while drain(ONBOARDED).processed:
        pass


def tick_figure(timings_ms: list[float], failed_steps: list[str]) -> list[Figure]:
    """`tick_10k_users_ms`, valid only when no step of any timed tick failed.

    A tick whose steps raised skipped their work and is fast for the wrong reason, so the figure
    is then written as invalid (-1) with `tick_10k_users_failed_steps` beside it, and the
    benchmark run fails.
    """
    if failed_steps:
        return [Figure("tick_10k_users_ms", -1, "ms", "invalid: steps failed"),
                Figure("tick_10k_users_failed_steps", len(failed_steps), "n", "0")]
    return [Figure("tick_10k_users_ms", round(median(timings_ms), 1), "ms", "<= 500"),
            Figure("tick_10k_users_failed_steps", 0, "n", "0")]


def bench_scheduler(workdir: Path) -> list[Figure]:
    from gitpulse_app.core.db import set_engine
    from gitpulse_app.intelligence.scheduler import run_tick

    engine = _use_database(f"sqlite:///{workdir / 'scheduler_none_due.db'}")
    try:
        _seed_none_due(engine)
        run_tick(AT)  # warm caches: compiled statements, zone data
        timings: list[float] = []
        failed_steps: list[str] = []
        for _ in range(TICKS):
            started = time.perf_counter()
            result = run_tick(AT)
            timings.append((time.perf_counter() - started) * 1000)
            if result.daily.reports_generated or result.weekly.reports_generated:
                raise RuntimeError("the none-due tick generated reports")
            if result.daily.users_attempted != USERS_NONE_DUE:
                raise RuntimeError(f"checked {result.daily.users_attempted} users")
            failed_steps.extend(result.failed_steps)
    finally:
        set_engine(None)
        engine.dispose()

    engine = _use_database(f"sqlite:///{workdir / 'scheduler_due.db'}")
    try:
        _seed_due(engine)
        started = time.perf_counter()
        result = run_tick(AT)
        due_ms = (time.perf_counter() - started) * 1000
        if result.daily.reports_generated != USERS_DUE or result.daily.errors:
            raise RuntimeError(f"the due tick made {result.daily.reports_generated} reports "
                               f"with {result.daily.errors} errors")
    finally:
        set_engine(None)
        engine.dispose()
    return [
        *tick_figure(timings, failed_steps),
        Figure("tick_1k_due_local_ms", round(due_ms, 1), "ms"),
    ]


if __name__ == "__main__":
    import os
    import tempfile

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        for figure in bench_scheduler(Path(tmp)):
            print(f"{figure.name}: {figure.value} {figure.unit} {figure.target}")
