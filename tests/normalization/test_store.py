import contextlib
import datetime as dt
import logging
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.core.signals import fact_changed
from gitpulse_app.normalization.canonicalize import repo_ref
from gitpulse_app.normalization.canonicalize_rest import canonicalize_rest_commit
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.repos import upsert_repo
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact
from gitpulse_app.normalization.changes import UpsertResult
from gitpulse_app.normalization.store import ingest_facts, store_facts
from tests.support.payloads import (
    REPO_ID,
    USER_ID,
    load_webhook,
    rest_commit,
    rest_commit_detail,
    rest_repo,
    user,
)

GITHUB = "https://github.com"
D = "\u2013"
REPO_URL = f"{GITHUB}/Codertocat/Hello-World"
PR_URL = f"{REPO_URL}/pull/2"
PR_TEXT = f"PR #2 {D} Update the README with new information. opened by Codertocat (+1, -1, 1 files)"
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
COMMIT_URL = f"{REPO_URL}/commit/{SHA}"
COMMENT_URL = f"{REPO_URL}/issues/1#issuecomment-492700400"
LATER = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _webhook(event: str, name: str, **changes):
    payload = load_webhook(event, name)
    for path, value in changes.items():
        target = payload
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return canonicalize_webhook(event, payload, GITHUB)


def _store(session: Session, facts, via: str = "webhook", **kwargs) -> UpsertResult:
    result = store_facts(session, facts, observed_via=via, github_url=GITHUB, **kwargs)
    session.commit()
    session.expire_all()
    return result


def _events(session: Session) -> list[Event]:
    session.expire_all()
    return list(session.exec(select(Event).order_by(Event.id)))


@pytest.fixture
def received():
    """Every `fact_changed` payload sent during the test."""
    batches: list[list] = []

    def receiver(**payload):
        batches.append(payload["changes"])

    fact_changed.connect(receiver)
    yield batches
    fact_changed.disconnect(receiver)


@pytest.fixture
def file_db(sqlite_template, tmp_path):
    """A migrated SQLite file (separate connections see only committed data)."""
    path = tmp_path / "gitpulse.db"
    with contextlib.closing(sqlite3.connect(path)) as target:
        sqlite_template.backup(target)
    return path


@pytest.fixture
def file_engine(file_db):
    engine = create_db_engine(f"sqlite:///{file_db}")
    set_engine(engine)
    yield engine
    set_engine(None)
    engine.dispose()


# Insert and duplicates -----------------------------------------------------------------------------


def test_opened_pr_webhook_is_stored_with_text_url_metrics_and_hash(any_engine):
    with Session(any_engine) as session:
        result = _store(session, _webhook("pull_request", "opened"), installation_id=None)
        [event] = _events(session)
        repo = session.get(Repo, event.repo_id)
        actor = session.get(User, event.actor_id)

    assert (result.inserted, result.updated, result.duplicates) == (1, 0, 0)
    assert event.type == "pr_opened"
    assert event.canonical_text == PR_TEXT
    assert event.source_url == PR_URL
    assert (event.additions, event.deletions, event.files_changed) == (1, 1, 1)
    assert event.content_hash == content_hash(PR_TEXT, PR_URL, Metrics(1, 1, 1))
    assert event.ts == dt.datetime(2019, 5, 15, 15, 20, 33, tzinfo=dt.UTC)
    assert event.source_updated_at == event.ts
    assert event.observed_via == "webhook"
    assert event.gh_id == "279147437"
    assert event.meta["number"] == 2 and event.meta["head_branch"] == "changes"
    assert repo.full_name == "Codertocat/Hello-World" and repo.gh_id == REPO_ID
    assert actor.gh_login == "Codertocat" and actor.gh_id == USER_ID
    assert actor.signed_up_at is None
    [change] = result.changes
    assert (change.event_id, change.result, change.content_hash) == (
        event.id, "inserted", event.content_hash,
    )
    assert (change.repo_id, change.actor_id, change.type) == (repo.id, actor.id, "pr_opened")


def test_same_payload_twice_is_one_row_and_the_second_a_duplicate(any_engine):
    facts = _webhook("pull_request", "opened")
    with Session(any_engine) as session:
        _store(session, facts)
        before = _events(session)[0].updated_at
        second = _store(session, facts, now=LATER)
        [event] = _events(session)

    assert (second.inserted, second.updated, second.duplicates) == (0, 0, 1)
    assert second.changes == []
    assert event.updated_at == before


def test_store_does_not_commit(session):
    store_facts(session, _webhook("pull_request", "opened"), observed_via="webhook")
    session.rollback()
    assert _events(session) == []


# Merges ----------------------------------------------------------------------------------------


def test_edited_comment_after_created_updates_text_and_hash(any_engine):
    with Session(any_engine) as session:
        _store(session, _webhook("issue_comment", "created"))
        created = _events(session)[0]
        created_hash, created_id = created.content_hash, created.id
        result = _store(session, _webhook("issue_comment", "edited"))
        [event] = _events(session)

    assert (result.inserted, result.updated, result.duplicates) == (0, 1, 0)
    assert event.id == created_id
    assert event.canonical_text.endswith("I'll get this fixed today.")
    assert event.content_hash != created_hash
    assert event.meta["body"] == "You are totally right! I'll get this fixed today."
    assert event.source_updated_at == dt.datetime(2019, 5, 15, 15, 20, 22, tzinfo=dt.UTC)
    assert event.ts == dt.datetime(2019, 5, 15, 15, 20, 21, tzinfo=dt.UTC)
    [change] = result.changes
    assert (change.event_id, change.result, change.content_hash) == (
        event.id, "updated", event.content_hash,
    )


def test_created_comment_processed_after_edited_changes_nothing(session):
    _store(session, _webhook("issue_comment", "edited"))
    edited = _events(session)[0]
    text, digest = edited.canonical_text, edited.content_hash

    result = _store(session, _webhook("issue_comment", "created"))

    [event] = _events(session)
    assert (result.inserted, result.updated, result.duplicates) == (0, 0, 1)
    assert (event.canonical_text, event.content_hash) == (text, digest)
    assert event.meta["body"].endswith("today.")


def test_reopen_of_a_known_pr_by_someone_else_keeps_one_pr_opened_by_the_opener(session):
    _store(session, _webhook("pull_request", "opened"))
    reopened = _webhook(
        "pull_request",
        "reopened",
        sender=user("hubot", 2),
        pull_request__updated_at="2019-05-16T10:00:00Z",
    )

    result = _store(session, reopened)

    [event] = _events(session)
    assert event.type == "pr_opened"
    assert event.canonical_text == PR_TEXT
    assert session.get(User, event.actor_id).gh_login == "Codertocat"
    assert (result.inserted, result.updated, result.duplicates) == (0, 0, 1)
    # The newer observation is remembered, so an older one cannot undo it later.
    assert event.source_updated_at == dt.datetime(2019, 5, 16, 10, tzinfo=dt.UTC)


def test_merge_keeps_stored_metrics_and_fills_missing_ones(session):
    facts = _webhook("pull_request", "opened")
    _store(session, facts)
    bigger = _webhook(
        "pull_request",
        "opened",
        pull_request__additions=50,
        pull_request__changed_files=None,
        pull_request__updated_at="2019-05-16T10:00:00Z",
    )

    result = _store(session, bigger)

    [event] = _events(session)
    assert (event.additions, event.deletions, event.files_changed) == (1, 1, 1)
    assert result.duplicates == 1


def test_metadata_overlays_non_null_values_without_a_new_hash(session):
    _store(session, _webhook("pull_request", "opened"))
    relabelled = _webhook(
        "pull_request",
        "opened",
        pull_request__body=None,
        pull_request__draft=True,
        pull_request__updated_at="2019-05-16T10:00:00Z",
    )

    result = _store(session, relabelled)

    [event] = _events(session)
    assert event.meta["draft"] is True
    assert event.meta["body"] == "This is a pretty simple change that we need to pull into master."
    assert (result.updated, result.duplicates, result.changes) == (0, 1, [])


# Commits: push, REST list, REST detail ---------------------------------------------------------------


def test_push_commit_then_rest_commit_for_the_same_sha_is_one_row(any_engine):
    with Session(any_engine) as session:
        push = _webhook("push", "with-no-username-committer")
        _store(session, push)
        rest = canonicalize_rest_commit(rest_commit(), rest_repo(), github_url=GITHUB)
        result = _store(session, rest, via="backfill")
        [event] = _events(session)

    assert event.canonical_text == f"Commit 6113728 by Codertocat {D} Initial commit"
    assert event.source_url == COMMIT_URL
    assert event.observed_via == "webhook"
    assert event.meta["branch"] == "master"
    assert event.gh_node_id is not None
    assert (result.inserted, result.updated, result.duplicates) == (0, 0, 1)


def test_rest_commit_seen_later_with_stats_updates_the_row_and_sends_updated(any_engine, received):
    ingest_facts(_webhook("push", "with-no-username-committer"), observed_via="webhook")
    with Session(any_engine) as session:
        first_hash = _events(session)[0].content_hash
    received.clear()

    detail = canonicalize_rest_commit(rest_commit_detail(), rest_repo(), github_url=GITHUB)
    result = ingest_facts(detail, observed_via="backfill", github_url=GITHUB)

    with Session(any_engine) as session:
        [event] = _events(session)
    assert (event.additions, event.deletions, event.files_changed) == (3, 1, 2)
    assert event.canonical_text.endswith("Initial commit (+3, -1, 2 files)")
    assert event.content_hash != first_hash
    assert (result.inserted, result.updated) == (0, 1)
    [[change]] = received
    assert (change.event_id, change.result, change.content_hash) == (
        event.id, "updated", event.content_hash,
    )


def test_git_only_author_is_kept_until_a_github_user_is_seen(session):
    sha = "a" * 40
    git_only = canonicalize_rest_commit(rest_commit(sha, author=None), rest_repo())
    _store(session, git_only, via="backfill")
    again = _store(session, git_only, via="backfill")
    [event] = _events(session)
    git_user = session.get(User, event.actor_id)
    assert git_user.gh_id is None and git_user.gh_login is None
    assert git_user.git_email == "21031067+codertocat@users.noreply.github.com"
    assert git_user.display_name == "Codertocat"
    assert event.canonical_text == f"Commit aaaaaaa by Codertocat {D} Initial commit"
    assert again.duplicates == 1

    linked = canonicalize_rest_commit(rest_commit(sha), rest_repo())
    result = _store(session, linked, via="backfill")

    [event] = _events(session)
    upgraded = session.get(User, event.actor_id)
    assert upgraded.id != git_user.id
    assert (upgraded.gh_id, upgraded.gh_login) == (USER_ID, "Codertocat")
    assert result.updated == 1 and result.changes[0].actor_id == upgraded.id


def test_github_user_is_never_replaced_by_a_git_only_author(session):
    sha = "b" * 40
    _store(session, canonicalize_rest_commit(rest_commit(sha), rest_repo()))
    git_only = canonicalize_rest_commit(
        rest_commit(sha, author=None, commit={"message": "Initial commit", "author": {
            "name": "Someone Else", "email": "else@example.com", "date": "2019-05-15T15:19:25Z",
        }}),
        rest_repo(),
    )

    result = _store(session, git_only)

    [event] = _events(session)
    assert session.get(User, event.actor_id).gh_login == "Codertocat"
    assert "by Codertocat" in event.canonical_text
    assert result.duplicates == 1


def test_login_only_push_author_gains_the_gh_id_of_a_later_observation(session):
    push = _webhook(
        "push",
        "with-no-username-committer",
        commits=[{
            **load_webhook("push", "with-no-username-committer")["commits"][0],
            "author": {"name": "Hubot", "email": "hubot@example.com", "username": "hubot"},
        }],
    )
    _store(session, push)
    login_only = session.exec(select(User).where(User.gh_login == "hubot")).one()
    assert login_only.gh_id is None

    rest = canonicalize_rest_commit(rest_commit(author=user("hubot", 99)), rest_repo())
    _store(session, rest)

    [event] = _events(session)
    hubot = session.exec(select(User).where(User.gh_login == "hubot")).one()
    assert hubot.id == login_only.id == event.actor_id
    assert hubot.gh_id == 99


# Batches -----------------------------------------------------------------------------------------


def test_a_batch_with_the_same_fact_twice_stores_one_row(any_engine):
    facts = _webhook("pull_request", "opened")
    with Session(any_engine) as session:
        result = _store(session, facts + facts)
        events = _events(session)

    assert len(events) == 1
    assert (result.inserted, result.updated, result.duplicates) == (1, 0, 1)
    assert len(result.changes) == 1


def test_a_batch_folds_later_observations_in_order(session):
    created = _webhook("issue_comment", "created")
    edited = _webhook("issue_comment", "edited")

    result = _store(session, created + edited + created)

    [event] = _events(session)
    assert event.canonical_text.endswith("today.")
    assert (result.inserted, result.duplicates) == (1, 2)
    [change] = result.changes
    assert change.result == "inserted" and change.content_hash == event.content_hash


def test_many_facts_of_few_repos_and_actors_are_stored_in_one_call(session):
    facts = []
    for index in range(1200):
        repo = rest_repo(id=500 + index % 3, full_name=f"acme/r{index % 3}", name=f"r{index % 3}")
        author = user(f"dev{index % 10}", 1000 + index % 10)
        facts += canonicalize_rest_commit(rest_commit(f"{index:040x}", author=author), repo)

    result = _store(session, facts, via="backfill")

    assert result.inserted == 1200
    assert session.scalar(select(sa.func.count()).select_from(Event)) == 1200
    assert session.scalar(select(sa.func.count()).select_from(Repo)) == 3
    assert session.scalar(select(sa.func.count()).select_from(User)) == 10
    assert len({change.event_id for change in result.changes}) == 1200


# Renames -----------------------------------------------------------------------------------------


def test_repo_rename_rewrites_fact_urls_and_the_next_backfill_adds_nothing(any_engine):
    renamed = rest_repo(full_name="Codertocat/Hello-Universe", name="Hello-Universe")
    new_url = f"{GITHUB}/Codertocat/Hello-Universe/commit/{SHA}"
    with Session(any_engine) as session:
        _store(session, _webhook("push", "with-no-username-committer"))
        old_hash = _events(session)[0].content_hash
        changes = []
        repo = upsert_repo(session, renamed, github_url=GITHUB, changes=changes)
        session.commit()
        [event] = _events(session)
        assert repo.full_name == "Codertocat/Hello-Universe"
        assert event.source_url == new_url
        assert event.content_hash == content_hash(event.canonical_text, new_url, Metrics())
        assert event.content_hash != old_hash
        assert [(c.event_id, c.result) for c in changes] == [(event.id, "updated")]

        backfill = canonicalize_rest_commit(rest_commit(), renamed, github_url=GITHUB)
        result = _store(session, backfill, via="backfill")
        assert len(_events(session)) == 1
    assert (result.inserted, result.updated, result.duplicates) == (0, 0, 1)


def test_a_renamed_repository_in_a_batch_moves_stored_facts_before_matching(session, received):
    ingest_facts(_webhook("pull_request", "opened"), observed_via="webhook", github_url=GITHUB)
    received.clear()
    renamed = _webhook(
        "pull_request",
        "opened",
        repository__full_name="Codertocat/Hello-Universe",
        repository__name="Hello-Universe",
        pull_request__html_url=f"{GITHUB}/Codertocat/Hello-Universe/pull/2",
    )

    result = ingest_facts(renamed, observed_via="webhook", github_url=GITHUB)

    [event] = _events(session)
    assert event.source_url == f"{GITHUB}/Codertocat/Hello-Universe/pull/2"
    assert (result.inserted, result.updated, result.duplicates) == (0, 1, 1)
    [[change]] = received
    assert (change.event_id, change.result, change.content_hash) == (
        event.id, "updated", event.content_hash,
    )


# Time --------------------------------------------------------------------------------------------


def test_a_naive_now_is_refused_before_anything_is_written(session):
    with pytest.raises(ValueError, match="timezone-aware"):
        store_facts(
            session,
            _webhook("pull_request", "opened"),
            observed_via="webhook",
            now=dt.datetime(2024, 1, 1),
        )
    assert not session.new and not session.dirty
    assert session.scalar(select(sa.func.count()).select_from(Repo)) == 0
    assert _events(session) == []


def test_stored_times_are_aware_utc(session):
    _store(session, _webhook("push", "with-no-username-committer"), now=LATER)
    [event] = _events(session)
    repo = session.get(Repo, event.repo_id)
    raw = session.connection().execute(sa.text("SELECT ts, created_at FROM events")).one()

    for value in (event.ts, event.source_updated_at, event.created_at, event.updated_at):
        assert value.utcoffset() == dt.timedelta(0)
    assert event.created_at == LATER
    assert repo.gh_pushed_at == dt.datetime.fromtimestamp(1557933657, dt.UTC)
    assert all(text.endswith("+00:00") for text in raw)


# Signal, metrics, retries ------------------------------------------------------------------------------


def test_fact_changed_receives_one_batch_after_the_commit(file_engine, file_db, received):
    seen_committed = []

    def check_committed(**payload):
        # A separate connection sees the rows only once the transaction committed.
        with contextlib.closing(sqlite3.connect(file_db)) as other:
            seen_committed.append(other.execute("SELECT count(*) FROM events").fetchone()[0])

    fact_changed.connect(check_committed)
    try:
        facts = _webhook("pull_request", "opened") + _webhook("issue_comment", "created")
        result = ingest_facts(facts, observed_via="webhook")
    finally:
        fact_changed.disconnect(check_committed)

    assert seen_committed == [2]
    [batch] = received
    assert {change.result for change in batch} == {"inserted"}
    assert [change.event_id for change in batch] == [c.event_id for c in result.changes]


def test_pure_duplicates_send_nothing(engine, received):
    facts = _webhook("pull_request", "opened")
    ingest_facts(facts, observed_via="webhook")
    received.clear()

    result = ingest_facts(facts, observed_via="webhook")

    assert result.duplicates == 1
    assert received == []


def test_ingest_logs_upsert_counts_and_one_events_ingested_per_insert(engine, caplog):
    caplog.set_level(logging.INFO, logger="gitpulse.metrics")
    facts = _webhook("pull_request", "opened") + _webhook("issue_comment", "created")

    ingest_facts(facts + facts[:1], observed_via="webhook")

    metrics = [record for record in caplog.records if hasattr(record, "metric")]
    upserted = {r.result: r.count for r in metrics if r.metric == "fact.upserted"}
    ingested = [r for r in metrics if r.metric == "events_ingested"]
    assert upserted == {"inserted": 2, "duplicate": 1}
    assert sorted(r.type for r in ingested) == ["issue_comment", "pr_opened"]
    assert all(r.installation_id is None and r.event_id and r.repo_id for r in ingested)


def _lock_for(path, seconds: float | None) -> sqlite3.Connection:
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    if seconds is not None:
        threading.Timer(seconds, blocker.execute, args=("COMMIT",)).start()
    return blocker


@pytest.fixture
def impatient_engine(file_db):
    """A file engine that reports a lock at once instead of after the 5 s busy timeout."""
    engine = create_db_engine(f"sqlite:///{file_db}")
    sa.event.listen(
        engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout=0")
    )
    yield engine
    engine.dispose()


def test_a_locked_sqlite_database_is_retried(impatient_engine, file_db):
    blocker = _lock_for(file_db, 0.25)
    try:
        result = ingest_facts(
            _webhook("pull_request", "opened"), observed_via="webhook", engine=impatient_engine
        )
    finally:
        blocker.close()

    assert result.inserted == 1


def test_a_database_locked_beyond_the_retries_raises(impatient_engine, file_db):
    blocker = _lock_for(file_db, None)
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            ingest_facts(
                _webhook("pull_request", "opened"), observed_via="webhook", engine=impatient_engine
            )
    finally:
        blocker.close()


# Identity changes inside a batch, concurrent writers -------------------------------------------------


def _commit_fact(sha: str, actor: ActorRef) -> NormalizedFact:
    return NormalizedFact(
        type="commit",
        repo=repo_ref(rest_repo()),
        actor=actor,
        ts=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        source_url=f"{REPO_URL}/commit/{sha}",
        metadata={"sha": sha, "message": "Work"},
        gh_id=sha,
    )


def test_a_login_only_user_merged_mid_batch_leaves_every_fact_with_the_account(any_engine):
    with Session(any_engine) as session:
        account = User(gh_id=5, gh_login="old-name")
        login_only = User(gh_login="new-name")
        session.add_all([account, login_only])
        session.commit()
        facts = [
            _commit_fact("a" * 40, ActorRef(login="new-name")),
            _commit_fact("b" * 40, ActorRef(gh_id=5, login="new-name")),
            _commit_fact("c" * 40, ActorRef(login="new-name")),
        ]

        result = _store(session, facts)

        assert result.inserted == 3
        assert {event.actor_id for event in _events(session)} == {account.id}
        assert [user.gh_login for user in session.exec(select(User))] == ["new-name"]


@pytest.mark.postgres
def test_concurrent_writers_of_the_same_fact_converge_on_one_row(pg_engine):
    with Session(pg_engine) as session:
        # The repository and actor exist and are unchanged, so nothing else makes it wait.
        _store(session, _webhook("pull_request", "opened", pull_request__html_url=f"{PR_URL}0"))
    facts = _webhook("pull_request", "opened")
    outcome: dict[str, UpsertResult] = {}

    with Session(pg_engine) as first:
        store_facts(first, facts, observed_via="webhook")
        # The second writer's INSERT waits on the first's uncommitted row, then skips it.
        racer = threading.Thread(
            target=lambda: outcome.setdefault(
                "second", ingest_facts(facts, observed_via="backfill", engine=pg_engine)
            )
        )
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()
        first.commit()
    racer.join(10)

    with Session(pg_engine) as session:
        events = _events(session)
    assert [event.source_url for event in events] == [f"{PR_URL}0", PR_URL]
    assert events[1].observed_via == "webhook"
    second = outcome["second"]
    assert (second.inserted, second.updated, second.duplicates) == (0, 0, 1)
