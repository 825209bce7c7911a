"""Builders for the channel tests: a team that shares one repository, facts stored through the
real fact store, channels added through the service, and the clock of the scheduler tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlmodel import Session

import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — connects the staleness receiver
from gitpulse_app.core.models import (
    ChannelDelivery,
    DeliveryChannel,
    Installation,
    Repo,
    User,
    UserInstallation,
)
from gitpulse_app.intelligence.delivery.channels.service import ChannelInput, add_channel
from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.support.rows import add_rows, make_user

BASE_URL = "https://gitpulse.example.com"
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
# Dec 4, 2025 in UTC; the tick at 00:15 on Dec 5 writes its dailies.
DAY = dt.datetime(2025, 12, 4, tzinfo=dt.UTC)
TICK = dt.datetime(2025, 12, 5, 0, 15, tzinfo=dt.UTC)
_serial = itertools.count(1)


@pytest.fixture
def chat_env(configure):
    """Local fakes are reachable (http on 127.0.0.1) and report links use a public base URL."""
    return configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1", GITPULSE_BASE_URL=BASE_URL)


@dataclass
class Team:
    """Onboarded UTC users who all work in one repository, `acme/app`, that each can see."""

    session: Session
    users: dict[str, User] = field(default_factory=dict)
    repo: Repo | None = None

    def __post_init__(self) -> None:
        self.repo = Repo(gh_id=90_000, full_name="acme/app", owner="acme", name="app")
        installation = Installation(kind="app", gh_installation_id=91_000, account_login="acme",
                                    repositories=["acme/app"], repository_ids=[90_000],
                                    last_reconciled_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
                                    last_synced_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
        self.session.add_all([self.repo, installation])
        self.session.commit()
        self.installation_id = installation.id

    def user(self, login: str, **fields) -> User:
        row = make_user(self.session, login, timezone="UTC", signed_up_at=LONG_AGO,
                        onboarding_completed_at=LONG_AGO, email_reports_enabled=False, **fields)
        add_rows(self.session, UserInstallation(user_id=row.id,
                                                installation_id=self.installation_id,
                                                role="member"))
        self.users[login] = row
        return row

    def merged(self, login: str, title: str, at: Iterable[dt.datetime] = (DAY + dt.timedelta(
            hours=10),)) -> list[str]:
        """One merged pull request by `login` at each instant; returns their URLs."""
        repo = self.repo
        ref = RepoRef(gh_id=repo.gh_id, full_name=repo.full_name, owner=repo.owner,
                      name=repo.name, raw={"id": repo.gh_id, "full_name": repo.full_name})
        user = self.users[login]
        facts, urls = [], []
        for instant in at:
            number = next(_serial) + 100
            url = f"https://github.com/acme/app/pull/{number}"
            urls.append(url)
            facts.append(NormalizedFact(
                type="pr_merged", repo=ref, actor=ActorRef(gh_id=user.gh_id, login=login),
                ts=instant, source_url=url,
                metadata={"number": number, "title": title, "state": "closed"}))
        ingest_facts(facts, observed_via="webhook")
        return urls

    def channel(self, owner: str, kind: str, url: str, **fields) -> int:
        added = add_channel(self.users[owner].id, ChannelInput(kind=kind, url=url, **fields))
        return added.view.id

    def deliveries(self, channel_id: int | None = None) -> list[ChannelDelivery]:
        self.session.expire_all()
        statement = sa.select(ChannelDelivery).order_by(ChannelDelivery.id)
        if channel_id is not None:
            statement = statement.where(ChannelDelivery.channel_id == channel_id)
        return list(self.session.scalars(statement))

    def channel_row(self, channel_id: int) -> DeliveryChannel:
        self.session.expire_all()
        return self.session.get(DeliveryChannel, channel_id)


@pytest.fixture
def team(session: Session, chat_env) -> Team:
    return Team(session)
