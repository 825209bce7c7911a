"""Two users, A and B, each with their own sources, repositories, facts, reports, regenerations,
email deliveries and a dead-lettered webhook envelope: the world of the authorization matrix
(docs/SECURITY.md, docs/VISIBILITY.md; issue 8 Acceptance).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — connects the staleness receiver
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.crypto import encrypt_token
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    ChannelDelivery,
    DeliveryChannel,
    EmailDelivery,
    Repo,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.auth.api_tokens import create_token
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE
from gitpulse_app.intelligence.embeddings.providers import reset_providers
from gitpulse_app.intelligence.reports.service import generate_report, request_regeneration
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.support.rows import make_app_source, make_user

_serial = itertools.count(random.randrange(1, 10**5) * 100)

# Thursday 2025-12-04 in UTC; the reports cover that day.
DAY = (dt.datetime(2025, 12, 4, tzinfo=dt.UTC), dt.datetime(2025, 12, 5, tzinfo=dt.UTC))
NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)


@dataclass
class Side:
    """One user's private world."""

    name: str
    user_id: int
    login: str
    email: str
    oauth_plain: str
    oauth_enc: str
    pat_plain: str
    pat_enc: str
    installation_id: int
    installation_gh_id: int
    pat_installation_id: int
    repo_full_name: str
    repo_id: int
    fact_title: str
    fact_url: str
    report_id: int
    regeneration_id: int
    delivery_id: int
    envelope_id: int
    session_token: str
    channel_id: int = 0
    channel_delivery_id: int = 0
    api_token_id: int = 0


@dataclass
class Pair:
    a: Side
    b: Side

    def link_b_as_viewer(self) -> None:
        """B also sees A's App source and A's token source, as a viewer."""
        with session_scope() as session:
            for installation_id in (self.a.installation_id, self.a.pat_installation_id):
                session.add(UserInstallation(user_id=self.b.user_id,
                                             installation_id=installation_id, role="viewer"))


def _fact(full_name: str, repo_gh_id: int, login: str, gh_id: int, number: int, title: str
          ) -> NormalizedFact:
    owner, name = full_name.split("/")
    ref = RepoRef(gh_id=repo_gh_id, full_name=full_name, owner=owner, name=name,
                  raw={"id": repo_gh_id, "full_name": full_name, "name": name,
                       "owner": {"login": owner}})
    return NormalizedFact(
        type="pr_merged", repo=ref, actor=ActorRef(gh_id=gh_id, login=login),
        ts=DAY[0] + dt.timedelta(hours=10),
        source_url=f"https://github.com/{full_name}/pull/{number}",
        metrics=Metrics(10, 2, 1),
        metadata={"number": number, "title": title, "state": "closed", "body": "Details"})


def build_side(session: Session, name: str, title: str) -> Side:
    serial = next(_serial)
    login = f"{name}user{serial}"
    email = f"{login}@{name}-private.example"
    oauth_plain = f"gho_{name}OauthPlain{serial}"
    pat_plain = f"ghp_{name}PatPlain{serial}"
    oauth_enc, pat_enc = encrypt_token(oauth_plain), encrypt_token(pat_plain)
    gh_id = 7_000_000 + serial
    user = make_user(session, login, gh_id=gh_id, email=email, timezone="UTC",
                     signed_up_at=NOW - dt.timedelta(days=30), onboarding_completed_at=NOW,
                     oauth_access_token_enc=oauth_enc)
    full_name = f"{name}org{serial}/{name}-app"
    installation = make_app_source(session, user, gh_installation_id=8_000_000 + serial,
                                   account_login=f"{name}org{serial}", repositories=[full_name],
                                   repository_ids=[9_000_000 + serial], last_synced_at=NOW,
                                   last_reconciled_at=NOW)
    pat = make_app_source(session, user, kind="pat", gh_installation_id=None, account_login=login,
                          token_enc=pat_enc, token_hint=pat_plain[-4:],
                          created_by_user_id=user.id)

    number = 100 + serial % 1000
    ingest_facts([_fact(full_name, 9_000_000 + serial, login, gh_id, number, title)],
                 observed_via="webhook")
    session.expire_all()
    repo = session.exec(select(Repo).where(Repo.full_name == full_name)).one()

    report = generate_report(user.id, "daily", *DAY, now=NOW).report
    regeneration_id = request_regeneration(user.id, report.id, now=NOW)
    delivery = EmailDelivery(report_id=report.id, to_address=email, status="failed",
                             attempts=3, last_error="SMTP refused")
    envelope = WebhookEvent(delivery_id=f"dead-{name}-{serial}", event="push",
                            installation_gh_id=installation.gh_installation_id,
                            payload={"sender": {"login": login}}, status="failed", attempts=5,
                            error_message="boom")
    session.add(delivery)
    session.add(envelope)
    channel = DeliveryChannel(
        user_id=user.id, kind="webhook", name=f"{name}'s hook", report_kinds=["daily"],
        url_enc=encrypt_token(f"https://hooks.{name}.example/gitpulse"), url_hint="…/pulse",
        secret_enc=encrypt_token(f"{name}-hook-secret"))
    session.add(channel)
    session.flush()
    channel_delivery = ChannelDelivery(report_id=report.id, channel_id=channel.id,
                                       delivery_uuid=f"00000000-0000-4000-8000-{serial:012d}",
                                       status="failed", attempts=3, last_error="HTTP 500")
    session.add(channel_delivery)
    session.commit()
    token = start_session(session, user.id, "pytest")
    session.commit()
    api_token = create_token(user.id, f"{name}'s laptop", "write", now=NOW)
    return Side(name=name, user_id=user.id, login=login, email=email, oauth_plain=oauth_plain,
                oauth_enc=oauth_enc, pat_plain=pat_plain, pat_enc=pat_enc,
                installation_id=installation.id,
                installation_gh_id=installation.gh_installation_id,
                pat_installation_id=pat.id, repo_full_name=full_name, repo_id=repo.id,
                fact_title=title, fact_url=f"https://github.com/{full_name}/pull/{number}",
                report_id=report.id, regeneration_id=regeneration_id, delivery_id=delivery.id,
                envelope_id=envelope.id, session_token=token, channel_id=channel.id,
                channel_delivery_id=channel_delivery.id, api_token_id=api_token.id)


@pytest.fixture(autouse=True)
def fresh_providers() -> Iterator[None]:
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def pair(session: Session) -> Pair:
    """A and B, built through the real fact store and report pipeline (local writer)."""
    return Pair(build_side(session, "alpha", "Alpha quasar ledger migration"),
                build_side(session, "bravo", "Bravo nebula cache rollout"))


@pytest.fixture
def client(engine) -> Iterator[TestClient]:
    from gitpulse_app.experience.http.app import create_api

    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client


def signed_in(client: TestClient, side: Side | None) -> TestClient:
    """The client carrying `side`'s session cookie (or none)."""
    client.cookies.clear()
    if side is not None:
        client.cookies.set(SESSION_COOKIE, side.session_token)
    return client


def fresh_token(user_id: int) -> str:
    with session_scope() as session:
        return start_session(session, user_id, "pytest", now=utcnow())
