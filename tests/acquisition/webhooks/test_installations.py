"""Installation events: `installation`, `installation_repositories`,
`github_app_authorization`."""

import datetime as dt
import logging

import pytest
from sqlmodel import select

from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import (
    Installation,
    IngestionJob,
    SyncBatch,
    User,
    UserInstallation,
)
from tests.acquisition.webhooks.conftest import post_webhook
from tests.support.payloads import load_webhook
from tests.support.rows import make_user

SIGNED_UP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # when the test users signed up

CODERTOCAT_ID = 21031067
INSTALLATION_GH_ID = 957387


def deliver(client, event: str, payload: dict) -> None:
    assert post_webhook(client, event, payload).status_code == 200
    result = processor.drain()
    assert (result.processed, result.completed) == (1, 1)


def installation(session, gh_id: int = INSTALLATION_GH_ID) -> Installation:
    session.expire_all()
    return session.exec(select(Installation).where(Installation.gh_installation_id == gh_id)).one()


def links(session, installation_id: int) -> dict[int, str]:
    session.expire_all()
    rows = session.exec(
        select(UserInstallation).where(UserInstallation.installation_id == installation_id)
    ).all()
    return {row.user_id: row.role for row in rows}


def signed_up(session, gh_id: int, login: str) -> User:
    return make_user(session, login, gh_id=gh_id, signed_up_at=SIGNED_UP)


def batches(session) -> list[SyncBatch]:
    session.expire_all()
    return list(session.exec(select(SyncBatch)).all())


def job_repos(session, batch: SyncBatch) -> list[str]:
    jobs = session.exec(select(IngestionJob).where(IngestionJob.batch_id == batch.id)).all()
    return sorted(job.repo_full_name for job in jobs)


def existing_installation(session, gh_id: int, repositories: list[str], owner: User | None = None,
                          **fields) -> Installation:
    row = Installation(gh_installation_id=gh_id, kind="app", repositories=repositories, **fields)
    session.add(row)
    session.commit()
    if owner is not None:
        session.add(UserInstallation(user_id=owner.id, installation_id=row.id, role="owner"))
        session.commit()
    return row


def test_created_by_a_signed_up_sender_links_the_owner_and_starts_a_sync(client, session):
    owner = signed_up(session, CODERTOCAT_ID, "Codertocat")
    deliver(client, "installation", load_webhook("installation", "created"))
    row = installation(session)
    assert row.kind == "app"
    assert (row.account_login, row.account_type, row.target_type) == ("Codertocat", "User", "User")
    assert row.repository_selection == "selected"
    assert row.repositories == ["Codertocat/Hello-World"]
    assert row.status == "active"
    assert links(session, row.id) == {owner.id: "owner"}
    [batch] = batches(session)
    assert (batch.installation_id, batch.trigger, batch.status) == (row.id, "webhook", "running")
    assert job_repos(session, batch) == ["Codertocat/Hello-World"]


def test_created_by_an_unknown_sender_stores_the_installation_and_the_sync_is_blocked(
    client, session, caplog
):
    caplog.set_level(logging.INFO)
    deliver(client, "installation", load_webhook("installation", "created"))
    row = installation(session)
    assert row.status == "active" and row.repositories == ["Codertocat/Hello-World"]
    assert links(session, row.id) == {}
    assert batches(session) == []
    answers = [getattr(r, "result_message", None) for r in caplog.records]
    assert "Installation not configured" in answers


def test_identity_only_sender_is_not_linked(client, session):
    session.add(User(gh_id=CODERTOCAT_ID, gh_login="Codertocat"))  # never signed up
    session.commit()
    deliver(client, "installation", load_webhook("installation", "created"))
    assert links(session, installation(session).id) == {}


def test_signed_up_requester_is_linked_as_viewer(client, session):
    owner = signed_up(session, CODERTOCAT_ID, "Codertocat")
    requester = signed_up(session, 555, "hubot")
    payload = load_webhook("installation", "created.with-requester")
    payload["requester"] = {"login": "hubot", "id": 555}
    deliver(client, "installation", payload)
    assert links(session, installation(session).id) == {owner.id: "owner", requester.id: "viewer"}


def test_requester_who_is_also_the_sender_stays_owner(client, session):
    owner = signed_up(session, CODERTOCAT_ID, "Codertocat")
    deliver(client, "installation", load_webhook("installation", "created.with-requester"))
    assert links(session, installation(session).id) == {owner.id: "owner"}


def test_created_fills_a_minimal_row_made_by_an_earlier_fact(client, session):
    existing_installation(session, INSTALLATION_GH_ID, [])
    deliver(client, "installation", load_webhook("installation", "created"))
    [row] = session.exec(select(Installation)).all()
    assert row.account_login == "Codertocat"
    assert row.repositories == ["Codertocat/Hello-World"]


def installation_payload(action: str, gh_id: int) -> dict:
    payload = load_webhook("installation", action)
    payload["installation"]["id"] = gh_id
    return payload


def test_deleted_suspend_and_unsuspend_set_the_status(client, session):
    owner = signed_up(session, 1, "octocat")
    existing_installation(session, 2, ["octocat/Hello-World"], owner)
    deliver(client, "installation", installation_payload("suspend", 2))
    assert installation(session, 2).status == "suspended"
    assert batches(session) == []
    deliver(client, "installation", installation_payload("unsuspend", 2))
    assert installation(session, 2).status == "active"
    [batch] = batches(session)
    assert batch.trigger == "webhook"
    deliver(client, "installation", installation_payload("deleted", 2))
    assert installation(session, 2).status == "deleted"


def test_new_permissions_accepted_is_only_acknowledged(client, session):
    existing_installation(session, INSTALLATION_GH_ID, ["octocat/Hello-World"])
    before = installation(session).model_dump()
    deliver(client, "installation", load_webhook("installation", "new_permissions_accepted"))
    assert installation(session).model_dump() == before
    assert batches(session) == []


# The second case: Space already listed (a repeated delivery, or the daily reconcile came first).
@pytest.mark.parametrize(
    "existing", [["Codertocat/Hello-World"], ["Codertocat/Hello-World", "Codertocat/Space"]]
)
def test_repositories_added_is_a_unique_union_and_syncs_only_the_added_repos(client, session,
                                                                             existing):
    owner = signed_up(session, CODERTOCAT_ID, "Codertocat")
    existing_installation(session, INSTALLATION_GH_ID, existing, owner,
                          account_login="old-login", repository_selection="all")
    deliver(client, "installation_repositories",
            load_webhook("installation_repositories", "added"))
    row = installation(session)
    assert row.repositories == ["Codertocat/Hello-World", "Codertocat/Space"]
    assert (row.account_login, row.repository_selection) == ("Codertocat", "selected")
    [batch] = batches(session)
    assert batch.trigger == "webhook"
    assert job_repos(session, batch) == ["Codertocat/Space"]


def test_repositories_removed_is_a_difference(client, session):
    existing_installation(session, 2, ["octocat/Hello-World", "octocat/Spoon-Knife"],
                          repository_selection="all")
    deliver(client, "installation_repositories", load_webhook("installation_repositories",
                                                              "removed"))
    row = installation(session, 2)
    assert row.repositories == ["octocat/Spoon-Knife"]
    assert (row.account_login, row.repository_selection) == ("octocat", "selected")
    assert batches(session) == []


def test_repositories_event_for_an_unknown_installation_creates_it(client, session):
    deliver(client, "installation_repositories", load_webhook("installation_repositories",
                                                              "added"))
    row = installation(session)
    assert row.repositories == ["Codertocat/Space"]
    assert row.account_login == "Codertocat"


def test_authorization_revoked_deletes_the_users_stored_oauth_tokens(client, session):
    user = User(gh_id=1, gh_login="octocat", signed_up_at=SIGNED_UP,
                oauth_access_token_enc="enc-access", oauth_refresh_token_enc="enc-refresh",
                oauth_token_expires_at=utcnow())
    other = User(gh_id=2, gh_login="hubot", oauth_access_token_enc="keep")
    session.add_all([user, other])
    session.commit()
    deliver(client, "github_app_authorization",
            load_webhook("github_app_authorization", "revoked"))
    session.expire_all()
    revoked = session.get(User, user.id)
    assert (revoked.oauth_access_token_enc, revoked.oauth_refresh_token_enc,
            revoked.oauth_token_expires_at) == (None, None, None)
    assert revoked.signed_up_at is not None
    assert session.get(User, other.id).oauth_access_token_enc == "keep"


def test_installation_event_without_installation_id_fails_the_schema_check(client, session):
    payload = load_webhook("installation", "created")
    del payload["installation"]["id"]
    post_webhook(client, "installation", payload, delivery="no-id")
    assert processor.drain().failed == 1
    session.expire_all()
    assert session.exec(select(Installation)).all() == []
