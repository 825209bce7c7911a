"""Row factories shared by the test modules: people, repositories, App sources, facts,
reports and webhook envelopes.

Each takes the test's session, fills every required column with a sensible default that is unique
within the run (GitHub ids come from ranges no test writes by hand), lets any column be overridden
(`make_user(session, "alice", timezone="UTC")`), adds the row and commits, or only flushes with
`commit=False` (inside a `session_scope()` that commits on exit; `stored_id` does that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    Event,
    Installation,
    Report,
    Repo,
    User,
    UserInstallation,
    WebhookEvent,
)

Row = TypeVar("Row", bound=SQLModel)

_serial = itertools.count(1)
# GitHub ids of factory rows; hand-written ids in tests stay far below these.
USER_GH_IDS = 70_000_000
REPO_GH_IDS = 71_000_000
INSTALLATION_GH_IDS = 72_000_000
REPORT_DAY_END = dt.datetime(2025, 12, 5, tzinfo=dt.UTC)


def serial() -> int:
    """A number no other factory call in this run returned."""
    return next(_serial)


def add_rows(session: Session, *rows: Row, commit: bool = True) -> Row:
    """Add `rows`, commit (or flush), and return the last."""
    session.add_all(rows)
    if commit:
        session.commit()
    else:
        session.flush()
    return rows[-1]


def make_user(session: Session, login: str | None = None, *, commit: bool = True,
              **fields: Any) -> User:
    """A GitHub user `login` (default `user<n>`) with a unique `gh_id`."""
    number = serial()
    values = {"gh_id": USER_GH_IDS + number, "gh_login": login or f"user{number}"}
    return add_rows(session, User(**(values | fields)), commit=commit)


def make_repo(session: Session, full_name: str | None = None, *, commit: bool = True,
              **fields: Any) -> Repo:
    """Repository `full_name` (default `acme/repo<n>`) with a unique `gh_id`."""
    number = serial()
    full_name = full_name or f"acme/repo{number}"
    owner, name = full_name.split("/")
    values = {"gh_id": REPO_GH_IDS + number, "full_name": full_name, "owner": owner, "name": name}
    return add_rows(session, Repo(**(values | fields)), commit=commit)


def make_app_source(session: Session, person: User | int, *repos: Repo | str,
                    role: str = "owner", commit: bool = True, **fields: Any) -> Installation:
    """An App installation listing `repos` (a name stands for the repository stored under it),
    linked to `person` (a user or its id) with `role`."""
    rows = [session.exec(select(Repo).where(Repo.full_name == repo)).one()
            if isinstance(repo, str) else repo for repo in repos]
    values = {
        "kind": "app",
        "gh_installation_id": INSTALLATION_GH_IDS + serial(),
        "account_login": "acme",
        "repositories": [repo.full_name for repo in rows],
        "repository_ids": [repo.gh_id for repo in rows],
    }
    source = add_rows(session, Installation(**(values | fields)), commit=commit)
    user_id = person if isinstance(person, int) else person.id
    add_rows(session, UserInstallation(user_id=user_id, installation_id=source.id, role=role),
             commit=commit)
    return source


def make_event(session: Session, repo: Repo, actor: User, ts: dt.datetime,
               fact_type: str = "commit", text: str | None = None, *, commit: bool = True,
               **fields: Any) -> Event:
    """A fact of `fact_type` by `actor` in `repo` at `ts`, observed by webhook, with a unique URL
    (and so a unique content hash); its text defaults to `<fact_type> <n>`."""
    number = serial()
    url = f"https://github.com/{repo.full_name}/{fact_type}/{number}"
    values = {
        "type": fact_type, "repo_id": repo.id, "actor_id": actor.id, "ts": ts,
        "canonical_text": text or f"{fact_type} {number}", "source_url": url,
        "content_hash": hashlib.sha256(url.encode()).hexdigest(), "observed_via": "webhook",
    }
    return add_rows(session, Event(**(values | fields)), commit=commit)


def make_report(session: Session, owner: User | int, *, commit: bool = True,
                **fields: Any) -> Report:
    """A scheduled daily report of `owner` (a user or its id), local provider, no sections;
    by default its day is the one before `REPORT_DAY_END`, so give other reports of the same
    owner their own `start_date`/`end_date` (the reports' unique key)."""
    end = fields.get("end_date", REPORT_DAY_END)
    values = {
        "user_id": owner if isinstance(owner, int) else owner.id,
        "kind": "daily", "schedule_type": "daily", "origin": "scheduled",
        "start_date": end - dt.timedelta(days=1), "end_date": end, "timezone": "UTC",
        "title": f"Daily report {serial()}", "description": "", "sections": [],
        "markdown": "", "html": "", "prompt_version": "py-v1", "provider": "local",
        "model": "local-extractive-v1", "cache_key": "0" * 64,
    }
    return add_rows(session, Report(**(values | fields)), commit=commit)


def make_dead_envelope(session: Session, *, commit: bool = True, **fields: Any) -> WebhookEvent:
    """A received `push` webhook delivery that failed and used up its retries."""
    values = {"delivery_id": f"dead-{serial()}", "event": "push", "status": "failed",
              "attempts": 5}
    return add_rows(session, WebhookEvent(**(values | fields)), commit=commit)


def stored_id(factory: Callable[..., SQLModel], *args: Any, **fields: Any) -> int:
    """Run a factory above in its own `session_scope()` (the process-wide engine, committed on
    exit) and return the new row's id."""
    with session_scope() as session:
        return factory(session, *args, commit=False, **fields).id
