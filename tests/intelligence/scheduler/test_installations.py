"""The 02:15 installation reconcile against a fake GitHub on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitpulse_app.core.models import Installation, User, UserInstallation
from gitpulse_app.intelligence.scheduler import run_tick
from gitpulse_app.acquisition.webhooks.reconcile import reconcile_installations
from tests.intelligence.scheduler.conftest import utc
from tests.support.fake_http import FakeResponse

AT = utc(2025, 12, 5, 2, 15)


@functools.cache
def app_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def github_app(configure, fake_github):
    configure(GITHUB_API_URL=fake_github.url, GITHUB_APP_ID="12345",
              GITHUB_APP_PRIVATE_KEY=app_key_pem())
    fake_github.add_paginated("/app/installations", [
        {"id": 42, "account": {"login": "Alice", "type": "User"}, "target_type": "User",
         "repository_selection": "selected", "suspended_at": None},
        {"id": 43, "account": {"login": "acme", "type": "Organization"},
         "target_type": "Organization", "repository_selection": "all",
         "suspended_at": "2025-12-01T00:00:00Z"},
    ])
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake_github.add("POST", "/app/installations/42/access_tokens",
                    FakeResponse(201, json={"token": "ghs_test", "expires_at": expires}))
    fake_github.add_paginated("/installation/repositories",
                              [{"full_name": "Alice/one"}, {"full_name": "Alice/two"}],
                              key="repositories")
    return fake_github


def test_reconcile_upserts_links_and_refreshes_repositories(github_app, session):
    alice = User(gh_id=1, gh_login="alice", signed_up_at=utc(2025, 1, 1))
    session.add_all([
        alice,
        Installation(kind="app", gh_installation_id=42, status="deleted", repositories=["x/old"]),
        Installation(kind="app", gh_installation_id=99, status="active"),
        Installation(kind="pat", status="active"),
    ])
    session.commit()

    result = run_tick(AT)

    assert result.slots == ["02:15"] and result.failed_steps == []
    session.expire_all()
    rows = {row.gh_installation_id: row for row in session.scalars(sa.select(Installation))}
    alice_app = rows[42]
    assert (alice_app.status, alice_app.account_login, alice_app.account_type,
            alice_app.repository_selection) == ("active", "Alice", "User", "selected")
    assert alice_app.repositories == ["Alice/one", "Alice/two"]
    assert (rows[43].status, rows[43].account_login, rows[43].created_at) == (
        "suspended", "acme", AT)
    assert rows[99].status == "deleted"  # GitHub no longer lists it
    assert rows[None].status == "active"  # token sources are not GitHub's to reconcile
    link = session.scalars(sa.select(UserInstallation)).one()
    assert (link.user_id, link.installation_id, link.role) == (alice.id, alice_app.id, "owner")


def test_reconcile_twice_changes_nothing_more(github_app, session):
    reconcile_installations(AT)
    first = session.execute(sa.select(Installation.id, Installation.updated_at)).all()

    reconcile_installations(AT + dt.timedelta(days=1))

    session.expire_all()
    assert session.execute(sa.select(Installation.id, Installation.updated_at)).all() == first


def test_without_an_app_nothing_is_called(session, fake_github, configure):
    configure(GITHUB_API_URL=fake_github.url)

    assert reconcile_installations(AT) == 0
    assert fake_github.requests == []
