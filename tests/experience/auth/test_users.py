"""What a sign-in writes about the user and their installations."""

from __future__ import annotations

import logging

from sqlmodel import select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import Event, Installation, Repo, User, UserInstallation
from tests.experience.auth.conftest import BASE_URL, make_user, sign_in_with_github


def add_fact(session, actor_id: int) -> Event:
    repo = Repo(gh_id=77, full_name="acme/api", owner="acme", name="api")
    session.add(repo)
    session.flush()
    event = Event(type="pr_opened", repo_id=repo.id, actor_id=actor_id, ts=utcnow(),
                  canonical_text="alice opened PR #1", source_url="https://github.com/acme/api/pull/1",
                  content_hash="0" * 64, observed_via="webhook")
    session.add(event)
    session.commit()
    return event


def test_an_identity_only_row_from_ingestion_is_upgraded_keeping_its_facts(client, github, session):
    ingested = make_user(gh_login="Alice")  # a push author known only by login
    event = add_fact(session, ingested.id)

    sign_in_with_github(client)

    session.expire_all()
    [user] = session.exec(select(User)).all()
    assert user.id == ingested.id
    assert (user.gh_id, user.gh_login) == (4242, "alice")
    assert user.signed_up_at is not None
    assert session.get(Event, event.id).actor_id == user.id


def test_an_identity_only_row_known_by_gh_id_is_upgraded(client, github, session):
    ingested = make_user(gh_id=4242, gh_login="alice", avatar_url="https://old.example/a.png")

    sign_in_with_github(client)

    session.expire_all()
    [user] = session.exec(select(User)).all()
    assert user.id == ingested.id and user.signed_up_at is not None
    assert user.avatar_url == "https://avatars.example/u/4242"


def test_a_stale_holder_of_the_login_is_renamed_with_its_gh_id(client, github, session):
    stale = make_user(gh_id=999, gh_login="alice")

    response = sign_in_with_github(client)

    assert response.headers["location"] == f"{BASE_URL}/onboarding"
    session.expire_all()
    assert session.get(User, stale.id).gh_login == "alice#999"
    assert session.exec(select(User).where(User.gh_id == 4242)).one().gh_login == "alice"


def test_a_renamed_account_takes_over_a_login_only_row_and_its_facts(client, github, session):
    me = make_user(gh_id=4242, gh_login="alice-old", signed_up_at=utcnow())
    login_only = make_user(gh_login="alice")
    event = add_fact(session, login_only.id)

    sign_in_with_github(client)

    session.expire_all()
    assert session.get(User, me.id).gh_login == "alice"
    assert session.get(Event, event.id).actor_id == me.id
    assert session.get(User, login_only.id) is None


def installation(gh_id: int, login: str, kind: str = "User", **extra) -> dict:
    return {"id": gh_id, "account": {"login": login, "id": gh_id * 10, "type": kind},
            "target_type": kind, "repository_selection": "all", "suspended_at": None, **extra}


def test_listed_installations_are_linked_as_owner_or_viewer(client, github, session):
    github.installations([installation(11, "Alice"), installation(12, "acme", "Organization")])

    sign_in_with_github(client)

    user = session.exec(select(User)).one()
    links = {
        session.get(Installation, link.installation_id).gh_installation_id: link.role
        for link in session.exec(select(UserInstallation).where(UserInstallation.user_id == user.id))
    }
    assert links == {11: "owner", 12: "viewer"}
    org = session.exec(select(Installation).where(Installation.gh_installation_id == 12)).one()
    assert (org.kind, org.account_login, org.account_type, org.status) == (
        "app", "acme", "Organization", "active")


def test_signing_in_again_keeps_one_link_and_never_downgrades_an_owner(client, github, session):
    github.installations([installation(12, "acme", "Organization")])
    sign_in_with_github(client)
    link = session.exec(select(UserInstallation)).one()
    link.role = "owner"  # the install webhook made the installer owner
    session.add(link)
    session.commit()

    sign_in_with_github(client)

    session.expire_all()
    assert [row.role for row in session.exec(select(UserInstallation)).all()] == ["owner"]


def test_a_suspended_installation_is_stored_suspended(client, github, session):
    github.installations([installation(13, "alice", suspended_at="2026-01-01T00:00:00Z")])

    sign_in_with_github(client)

    assert session.exec(select(Installation)).one().status == "suspended"


def test_newly_linked_never_synced_installations_get_a_webhook_sync_request(
    client, github, session, caplog
):
    caplog.set_level(logging.INFO)
    synced = Installation(gh_installation_id=22, kind="app", account_login="acme",
                          last_synced_at=utcnow())
    session.add(synced)
    session.commit()
    github.installations([installation(21, "alice"), installation(22, "acme", "Organization")])

    response = sign_in_with_github(client)

    assert response.status_code == 302
    fresh = session.exec(select(Installation).where(Installation.gh_installation_id == 21)).one()
    requested = [record for record in caplog.records
                 if record.getMessage() == "metric:sync.request"]
    assert [(r.installation_id, r.trigger) for r in requested] == [(fresh.id, "webhook")]


def test_a_refused_installations_listing_does_not_fail_the_sign_in(client, github, session):
    github.installations([], status=403)

    response = sign_in_with_github(client)

    assert response.headers["location"] == f"{BASE_URL}/onboarding"
    assert session.exec(select(UserInstallation)).all() == []
