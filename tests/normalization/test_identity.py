import datetime as dt

import pytest
from sqlmodel import Session, select

from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.core.signals import fact_changed
from gitpulse_app.normalization.identity import resolve_actor
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from gitpulse_app.normalization.models import ActorRef, RepoRef
from gitpulse_app.normalization.repos import upsert_repo
from gitpulse_app.normalization.resolver import IdentityResolver
from gitpulse_app.normalization.service import save_repo
from gitpulse_app.normalization.store import ingest_facts, store_facts
from tests.support.payloads import load_webhook, rest_repo

GITHUB = "https://github.com"


def _users(session: Session) -> list[User]:
    session.expire_all()
    return list(session.exec(select(User).order_by(User.id)))


def _user(session: Session, **kwargs) -> User:
    row = User(**kwargs)
    session.add(row)
    session.flush()
    return row


# Actors ------------------------------------------------------------------------------------------


def test_a_new_actor_becomes_an_identity_only_user(any_engine):
    with Session(any_engine) as session:
        actor = ActorRef(gh_id=7, login="Alice", node_id="U_7", avatar_url="https://a/7")
        user = resolve_actor(session, actor)
        session.commit()
        [stored] = _users(session)

    assert stored.id == user.id
    assert (stored.gh_id, stored.gh_login, stored.gh_node_id) == (7, "Alice", "U_7")
    assert stored.avatar_url == "https://a/7"
    assert stored.signed_up_at is None and stored.git_email is None


def test_gh_id_is_looked_up_before_the_login(session):
    by_id = _user(session, gh_id=7, gh_login="alice")
    _user(session, gh_login="bob")

    found = resolve_actor(session, ActorRef(gh_id=7, login="alice"))

    assert found.id == by_id.id


def test_login_match_ignores_case_and_fills_gh_id_node_id_and_avatar(session):
    known = _user(session, gh_login="Alice")

    found = resolve_actor(
        session, ActorRef(gh_id=7, login="alice", node_id="U_7", avatar_url="https://a/7")
    )

    assert found.id == known.id
    assert (found.gh_id, found.gh_node_id, found.avatar_url) == (7, "U_7", "https://a/7")
    assert found.gh_login == "alice"  # the account's current spelling, now that its id is known
    assert len(_users(session)) == 1


def test_a_later_observation_does_not_overwrite_known_profile_fields(session):
    resolve_actor(session, ActorRef(gh_id=7, login="alice", node_id="U_7", avatar_url="old"))

    found = resolve_actor(session, ActorRef(gh_id=7, login="alice", node_id="X", avatar_url="new"))

    assert (found.gh_node_id, found.avatar_url) == ("U_7", "old")


def test_a_login_only_actor_resolves_to_the_known_account(session):
    known = _user(session, gh_id=7, gh_login="alice")

    found = resolve_actor(session, ActorRef(login="ALICE"))

    assert found.id == known.id
    assert found.gh_login == "alice"  # a bare login never rewrites the stored spelling


def test_a_git_only_author_is_keyed_by_lower_cased_email(session):
    first = resolve_actor(session, ActorRef(git_email="Dev@Example.com", git_name="Dev One"))

    again = resolve_actor(session, ActorRef(git_email="dev@example.COM", git_name="Dev 1"))

    assert again.id == first.id
    assert (first.git_email, first.display_name) == ("dev@example.com", "Dev One")
    assert first.gh_id is None and first.gh_login is None


def test_an_actor_without_identity_is_refused(session):
    with pytest.raises(ValueError, match="GitHub id, a login or a git email"):
        resolve_actor(session, ActorRef(git_name="Nobody"))


def test_a_login_given_to_another_account_renames_the_stale_row(any_engine):
    with Session(any_engine) as session:
        stale = _user(session, gh_id=1, gh_login="alice")
        newcomer = resolve_actor(session, ActorRef(gh_id=2, login="alice"))
        session.commit()
        users = {user.gh_id: user.gh_login for user in _users(session)}

    assert newcomer.id != stale.id
    assert users == {1: "alice#1", 2: "alice"}


def test_a_renamed_account_takes_its_new_login_from_the_stale_row(any_engine):
    with Session(any_engine) as session:
        _user(session, gh_id=5, gh_login="old-name")
        _user(session, gh_id=9, gh_login="new-name")
        found = resolve_actor(session, ActorRef(gh_id=5, login="new-name"))
        session.commit()
        users = {user.gh_id: user.gh_login for user in _users(session)}

    assert found.gh_id == 5
    assert users == {5: "new-name", 9: "new-name#9"}


def test_a_login_only_row_of_a_renamed_account_hands_its_facts_over(session):
    repo = upsert_repo(session, rest_repo(), github_url=GITHUB)
    account = _user(session, gh_id=5, gh_login="old-name")
    login_only = _user(session, gh_login="new-name")
    fact = Event(
        type="commit", repo_id=repo.id, actor_id=login_only.id, ts=dt.datetime.now(dt.UTC),
        canonical_text="Commit 1234567 by new-name", source_url=f"{GITHUB}/x/commit/1",
        content_hash="0" * 64, observed_via="webhook",
    )
    session.add(fact)
    session.flush()

    found = resolve_actor(session, ActorRef(gh_id=5, login="new-name"))

    assert found.id == account.id and found.gh_login == "new-name"
    session.expire_all()
    assert session.get(Event, fact.id).actor_id == account.id
    assert [user.id for user in _users(session)] == [account.id]


# Repositories ------------------------------------------------------------------------------------


def test_upsert_repo_creates_the_row_with_every_field(any_engine):
    raw = rest_repo(
        description="Demo",
        homepage="https://example.com",
        language="Ruby",
        archived=True,
        stargazers_count=4,
        forks_count=1,
        open_issues_count=2,
        watchers_count=3,
        size=10,
        created_at="2019-05-15T15:19:25Z",
        updated_at="2019-05-15T15:20:41Z",
        pushed_at="2019-05-15T15:20:57Z",
    )
    with Session(any_engine) as session:
        repo = upsert_repo(session, raw, github_url=GITHUB)
        session.commit()
        session.expire_all()
        stored = session.get(Repo, repo.id)

    assert (stored.gh_id, stored.full_name, stored.owner, stored.name) == (
        186853002, "Codertocat/Hello-World", "Codertocat", "Hello-World",
    )
    assert stored.gh_node_id == "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI="
    assert (stored.description, stored.homepage, stored.language) == (
        "Demo", "https://example.com", "Ruby",
    )
    assert stored.html_url == "https://github.com/Codertocat/Hello-World"
    assert stored.default_branch == "master"
    assert (stored.is_private, stored.is_fork, stored.is_archived) == (False, False, True)
    assert (stored.stars, stored.forks, stored.open_issues, stored.watchers, stored.size) == (
        4, 1, 2, 3, 10,
    )
    assert stored.gh_created_at == dt.datetime(2019, 5, 15, 15, 19, 25, tzinfo=dt.UTC)
    assert stored.gh_updated_at == dt.datetime(2019, 5, 15, 15, 20, 41, tzinfo=dt.UTC)
    assert stored.gh_pushed_at == dt.datetime(2019, 5, 15, 15, 20, 57, tzinfo=dt.UTC)


def test_upsert_repo_patches_present_fields_and_keeps_absent_ones(session):
    upsert_repo(session, rest_repo(description="Demo", language="Ruby"), github_url=GITHUB)
    minimal = {"id": 186853002, "full_name": "Codertocat/Hello-World", "private": True,
               "description": None}

    repo = upsert_repo(session, minimal, github_url=GITHUB)

    assert repo.is_private is True
    assert repo.description is None
    assert repo.language == "Ruby"
    assert len(list(session.exec(select(Repo)))) == 1


def test_push_webhook_epoch_timestamps_are_accepted(session):
    raw = load_webhook("push", "with-no-username-committer")["repository"]

    repo = upsert_repo(session, raw, github_url=GITHUB)

    assert repo.gh_created_at == dt.datetime.fromtimestamp(1557933565, dt.UTC)
    assert repo.gh_pushed_at == dt.datetime.fromtimestamp(1557933657, dt.UTC)
    assert repo.gh_updated_at == dt.datetime(2019, 5, 15, 15, 20, 41, tzinfo=dt.UTC)
    assert (repo.language, repo.stars, repo.forks, repo.open_issues) == ("Ruby", 0, 1, 2)


def test_a_repo_object_without_id_is_refused(session):
    with pytest.raises(ValueError, match="`id`"):
        upsert_repo(session, {"full_name": "a/b"}, github_url=GITHUB)


def test_the_stale_row_holding_the_new_name_is_renamed_with_its_gh_id(any_engine):
    with Session(any_engine) as session:
        upsert_repo(session, rest_repo(id=1, full_name="acme/app", name="app"), github_url=GITHUB)
        stale_fact = Event(
            type="commit", repo_id=session.exec(select(Repo)).one().id,
            actor_id=resolve_actor(session, ActorRef(gh_id=3, login="c")).id,
            ts=dt.datetime.now(dt.UTC), canonical_text="Commit 1234567 by c",
            source_url=f"{GITHUB}/acme/app/commit/1", content_hash="0" * 64,
            observed_via="webhook",
        )
        session.add(stale_fact)
        session.flush()
        changes = []

        upsert_repo(
            session, rest_repo(id=2, full_name="acme/app", name="app"), github_url=GITHUB,
            changes=changes,
        )
        session.commit()
        names = {repo.gh_id: repo.full_name for repo in session.exec(select(Repo))}
        session.expire_all()
        moved = session.get(Event, stale_fact.id).source_url

    assert names == {1: "acme/app#1", 2: "acme/app"}
    # Its facts move with it, so the new repository's facts cannot collide with them.
    assert moved == f"{GITHUB}/acme/app#1/commit/1"
    assert [change.event_id for change in changes] == [stale_fact.id]


def test_a_rename_leaves_other_repositories_facts_alone(session):
    upsert_repo(session, rest_repo(id=1, full_name="acme/app", name="app"), github_url=GITHUB)
    other = upsert_repo(
        session, rest_repo(id=2, full_name="acme/app-2", name="app-2"), github_url=GITHUB
    )
    actor = resolve_actor(session, ActorRef(gh_id=3, login="c"))
    other_fact = Event(
        type="commit", repo_id=other.id, actor_id=actor.id, ts=dt.datetime.now(dt.UTC),
        canonical_text="Commit 1234567 by c", source_url=f"{GITHUB}/acme/app/commit/1",
        content_hash="0" * 64, observed_via="webhook",
    )
    session.add(other_fact)
    session.flush()

    changes = []
    upsert_repo(
        session, rest_repo(id=1, full_name="acme/web", name="web"), github_url=GITHUB,
        changes=changes,
    )

    session.expire_all()
    assert session.get(Event, other_fact.id).source_url == f"{GITHUB}/acme/app/commit/1"
    assert changes == []


def test_a_batch_upserts_each_repository_and_actor_once(session):
    resolver = IdentityResolver(session, github_url=GITHUB)
    ref = RepoRef(gh_id=1, full_name="acme/app", owner="acme", name="app", raw=rest_repo(id=1))

    assert resolver.repo(ref) is resolver.repo(ref)
    assert resolver.actor(ActorRef(gh_id=3, login="c")) is resolver.actor(
        ActorRef(gh_id=3, login="c")
    )


def test_facts_without_a_raw_repository_object_still_store(session):
    facts = canonicalize_webhook(
        "pull_request", load_webhook("pull_request", "opened"), GITHUB
    )
    bare = [
        type(fact)(**{**fact.__dict__, "repo": RepoRef(
            gh_id=fact.repo.gh_id, full_name=fact.repo.full_name,
            owner=fact.repo.owner, name=fact.repo.name,
        )})
        for fact in facts
    ]

    result = store_facts(session, bare, observed_via="webhook")

    repo = session.exec(select(Repo)).one()
    assert result.inserted == 1
    assert (repo.full_name, repo.owner, repo.name) == (
        "Codertocat/Hello-World", "Codertocat", "Hello-World",
    )


def test_save_repo_commits_and_announces_the_renamed_facts(engine):
    received = []

    def receiver(**payload):
        received.append(payload["changes"])

    ingest_facts(
        canonicalize_webhook("pull_request", load_webhook("pull_request", "opened"), GITHUB),
        observed_via="webhook",
    )
    fact_changed.connect(receiver)
    try:
        repo = save_repo(rest_repo(full_name="Codertocat/Renamed", name="Renamed"))
    finally:
        fact_changed.disconnect(receiver)

    with Session(engine) as session:
        [event] = session.exec(select(Event)).all()
    assert repo.full_name == "Codertocat/Renamed"
    assert event.source_url == f"{GITHUB}/Codertocat/Renamed/pull/2"
    [[change]] = received
    assert (change.event_id, change.result, change.content_hash) == (
        event.id, "updated", event.content_hash,
    )
