"""Builders for the scheduler tests: onboarded users in many zones who see a repository, facts
stored through the real fact store, and readers for what the ticks wrote."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

import gitpulse_app.intelligence.embeddings  # noqa: F401 — queues new facts for embedding
import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — connects the staleness receiver
from gitpulse_app.core.models import (
    Repo,
    Report,
    ReportJobHistory,
    User,
)
from gitpulse_app.intelligence.embeddings.providers import reset_providers
from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.support.rows import make_app_source, make_repo, make_user

GITHUB = "https://github.com"
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_serial = itertools.count(1)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_providers():
    reset_providers()
    yield
    reset_providers()


@dataclass
class Town:
    """A database of onboarded users, each seeing their own repository."""

    session: Session
    repos: dict[int, Repo] = field(default_factory=dict)

    def user(self, login: str, zone: str | None, *, onboarded: dt.datetime | None = LONG_AGO,
             **fields: Any) -> User:
        """An onboarded, signed-up user with a repository of their own (`{login}/work`)."""
        row = make_user(self.session, login, timezone=zone, signed_up_at=onboarded or LONG_AGO,
                        onboarding_completed_at=onboarded, **fields)
        repo = make_repo(self.session, f"{login}/work")
        make_app_source(self.session, row, repo, account_login=login,
                        last_reconciled_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
                        last_synced_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
        self.repos[row.id] = repo
        return row

    def facts(self, user: User, instants: Iterable[dt.datetime]) -> None:
        """One merged pull request by `user` at each instant."""
        repo = self.repos[user.id]
        ref = RepoRef(gh_id=repo.gh_id, full_name=repo.full_name, owner=repo.owner,
                      name=repo.name, raw={"id": repo.gh_id, "full_name": repo.full_name})
        actor = ActorRef(gh_id=user.gh_id, login=user.gh_login)
        facts = []
        for instant in instants:
            number = next(_serial)
            facts.append(NormalizedFact(
                type="pr_merged", repo=ref, actor=actor, ts=instant,
                source_url=f"{GITHUB}/{repo.full_name}/pull/{number}",
                metadata={"number": number, "title": f"Change {number}", "state": "closed"}))
        if facts:
            ingest_facts(facts, observed_via="webhook")

    def every(self, user: User, start: dt.datetime, end: dt.datetime,
              step: dt.timedelta = dt.timedelta(hours=6)) -> None:
        """A fact every `step` over `[start, end)`."""
        instants = []
        instant = start
        while instant < end:
            instants.append(instant)
            instant += step
        self.facts(user, instants)

    def reports(self, user: User | None = None, kind: str | None = None) -> list[Report]:
        self.session.expire_all()
        statement = sa.select(Report).order_by(Report.user_id, Report.start_date)
        if user is not None:
            statement = statement.where(Report.user_id == user.id)
        if kind is not None:
            statement = statement.where(Report.kind == kind)
        return list(self.session.scalars(statement))

    def windows(self, user: User, kind: str = "daily") -> list[tuple[dt.datetime, dt.datetime]]:
        return [(r.start_date, r.end_date) for r in self.reports(user, kind)]

    def history(self) -> list[ReportJobHistory]:
        self.session.expire_all()
        return list(self.session.scalars(
            sa.select(ReportJobHistory).order_by(ReportJobHistory.id)))


@pytest.fixture
def town(session: Session) -> Town:
    return Town(session)


@pytest.fixture
def any_town(any_engine) -> Iterator[Town]:
    """A `Town` on each backend in turn: in-memory SQLite, then PostgreSQL."""
    with Session(any_engine, expire_on_commit=False) as db_session:
        yield Town(db_session)
