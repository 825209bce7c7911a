"""Data-model rules the database itself enforces, on SQLite and on PostgreSQL."""

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from gitpulse_app.core.models import (
    EmailDelivery,
    EmbeddingQueueItem,
    Event,
    IngestionJob,
    Installation,
    Report,
    Repo,
    SyncBatch,
    User,
    WebhookEvent,
)

T0 = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _save(engine: Engine, *rows: SQLModel) -> None:
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()


def _user(**overrides: Any) -> User:
    return User(**{"gh_id": 1, "gh_login": "alice", **overrides})


def _repo(**overrides: Any) -> Repo:
    values = {"gh_id": 10, "full_name": "acme/api", "owner": "acme", "name": "api"}
    return Repo(**{**values, **overrides})


def _installation(**overrides: Any) -> Installation:
    return Installation(**{"kind": "app", "gh_installation_id": 100, **overrides})


def _event(repo: Repo, actor: User, **overrides: Any) -> Event:
    values = {
        "type": "pull_request",
        "repo_id": repo.id,
        "actor_id": actor.id,
        "ts": T0,
        "canonical_text": "Alice opened PR #1",
        "source_url": "https://github.com/acme/api/pull/1",
        "content_hash": "a" * 64,
        "observed_via": "webhook",
    }
    return Event(**{**values, **overrides})


def _report(owner: User, **overrides: Any) -> Report:
    values = {
        "user_id": owner.id,
        "kind": "daily",
        "schedule_type": "daily",
        "origin": "scheduled",
        "start_date": T0 - DAY,
        "end_date": T0,
        "timezone": "UTC",
        "title": "Daily standup",
        "description": "",
        "markdown": "",
        "html": "",
        "prompt_version": "v1",
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "cache_key": "c" * 64,
    }
    return Report(**{**values, **overrides})


def _batch(installation: Installation, status: str = "running") -> SyncBatch:
    return SyncBatch(installation_id=installation.id, trigger="manual", status=status)


@pytest.fixture
def alice_and_repo(any_engine: Engine) -> tuple[User, Repo]:
    alice, repo = _user(), _repo()
    _save(any_engine, alice, repo)
    return alice, repo


# Time ---------------------------------------------------------------------------------------------
def test_writing_a_naive_datetime_raises(any_engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime refused"):
        _save(any_engine, _user(signed_up_at=dt.datetime(2025, 12, 5, 9, 0)))


def test_aware_datetimes_come_back_as_aware_utc(any_engine: Engine) -> None:
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    signed_up = dt.datetime(2025, 12, 5, 20, 30, 0, 123456, tzinfo=kolkata)
    _save(any_engine, _user(signed_up_at=signed_up))

    with Session(any_engine) as session:
        stored = session.exec(select(User)).one()

    assert stored.signed_up_at == signed_up
    assert stored.signed_up_at.utcoffset() == dt.timedelta(0)
    assert stored.signed_up_at.isoformat() == "2025-12-05T15:00:00.123456+00:00"
    assert stored.created_at.utcoffset() == dt.timedelta(0)


def test_timestamps_compare_in_time_order_across_offsets(any_engine: Engine) -> None:
    chicago_morning = dt.datetime(2025, 12, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
    _save(any_engine, _user(signed_up_at=chicago_morning))  # 15:00Z

    with Session(any_engine) as session:
        after_14z = session.exec(select(User).where(User.signed_up_at > T0 - dt.timedelta(hours=1)))
        after_16z = session.exec(select(User).where(User.signed_up_at > T0 + dt.timedelta(hours=1)))
        assert len(after_14z.all()) == 1
        assert after_16z.all() == []


def test_updated_at_moves_when_a_row_changes(any_engine: Engine) -> None:
    user = _user()
    _save(any_engine, user)
    created = user.updated_at

    with Session(any_engine, expire_on_commit=False) as session:
        stored = session.get(User, user.id)
        stored.display_name = "Alice"
        session.commit()

    assert stored.updated_at > created
    assert stored.created_at == user.created_at


# Sync batches -------------------------------------------------------------------------------------
def test_two_running_batches_for_one_installation_violate_the_database(any_engine: Engine) -> None:
    installation = _installation()
    _save(any_engine, installation)
    _save(any_engine, _batch(installation))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, _batch(installation))


def test_a_completed_and_a_running_batch_for_one_installation_coexist(any_engine: Engine) -> None:
    installation, other = _installation(), _installation(gh_installation_id=101)
    _save(any_engine, installation, other)

    _save(any_engine, _batch(installation, "completed"), _batch(installation, "failed"))
    _save(any_engine, _batch(installation), _batch(other))

    with Session(any_engine) as session:
        assert len(session.exec(select(SyncBatch)).all()) == 4


def test_deleting_a_batch_deletes_its_jobs(any_engine: Engine) -> None:
    installation = _installation()
    _save(any_engine, installation)
    batch = _batch(installation, "completed")
    _save(any_engine, batch)
    job = IngestionJob(
        batch_id=batch.id,
        installation_id=installation.id,
        repo_full_name="acme/api",
        trigger="manual",
        since=T0 - 30 * DAY,
    )
    _save(any_engine, job)

    with Session(any_engine) as session:
        session.exec(sa.delete(SyncBatch))
        session.commit()
        assert session.exec(select(IngestionJob)).all() == []


# Facts --------------------------------------------------------------------------------------------
def test_a_second_fact_with_the_same_type_and_source_url_fails(
    any_engine: Engine, alice_and_repo: tuple[User, Repo]
) -> None:
    alice, repo = alice_and_repo
    _save(any_engine, _event(repo, alice))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, _event(repo, alice, canonical_text="Alice edited PR #1"))


def test_facts_of_different_types_may_share_a_source_url(
    any_engine: Engine, alice_and_repo: tuple[User, Repo]
) -> None:
    alice, repo = alice_and_repo
    _save(any_engine, _event(repo, alice), _event(repo, alice, type="pull_request_merged"))


def test_a_fact_needs_an_existing_repo(
    any_engine: Engine, alice_and_repo: tuple[User, Repo]
) -> None:
    alice, repo = alice_and_repo
    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, _event(repo, alice, repo_id=repo.id + 1000))


def test_fact_meta_is_the_metadata_column(
    any_engine: Engine, alice_and_repo: tuple[User, Repo]
) -> None:
    alice, repo = alice_and_repo
    _save(any_engine, _event(repo, alice, meta={"number": 1, "labels": ["bug"]}))

    with any_engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT metadata FROM events")).scalar_one()
    with Session(any_engine) as session:
        stored = session.exec(select(Event)).one()

    assert stored.meta == {"number": 1, "labels": ["bug"]}
    # SQLite hands back the JSON text, psycopg the decoded value.
    assert (json.loads(raw) if isinstance(raw, str) else raw) == {"number": 1, "labels": ["bug"]}


# Reports ------------------------------------------------------------------------------------------
def test_custom_reports_with_null_schedule_type_may_share_a_window(any_engine: Engine) -> None:
    alice = _user()
    _save(any_engine, alice)

    _save(
        any_engine,
        _report(alice, schedule_type=None, query="auth"),
        _report(alice, schedule_type=None, query="billing"),
    )

    with Session(any_engine) as session:
        assert len(session.exec(select(Report)).all()) == 2


def test_standard_reports_may_not_share_a_window(any_engine: Engine) -> None:
    alice = _user()
    _save(any_engine, alice)
    _save(any_engine, _report(alice))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, _report(alice, origin="post_sync"))


def test_daily_and_weekly_standard_reports_may_share_a_window(any_engine: Engine) -> None:
    alice = _user()
    _save(any_engine, alice)
    _save(any_engine, _report(alice), _report(alice, kind="weekly", schedule_type="weekly"))


# Users --------------------------------------------------------------------------------------------
def test_a_user_without_gh_id_login_or_git_email_is_rejected(any_engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, User(display_name="Nobody"))


@pytest.mark.parametrize(
    "identity", [{"gh_id": 7}, {"gh_login": "bob"}, {"git_email": "bob@example.com"}]
)
def test_any_one_identity_is_enough_for_a_user(any_engine: Engine, identity: dict) -> None:
    _save(any_engine, User(**identity))


def test_gh_login_is_unique_regardless_of_case(any_engine: Engine) -> None:
    _save(any_engine, _user(gh_id=1, gh_login="Alice"))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, _user(gh_id=2, gh_login="alice"))


def test_users_without_a_login_do_not_collide(any_engine: Engine) -> None:
    _save(
        any_engine,
        User(git_email="a@example.com"),
        User(git_email="b@example.com"),
    )


def test_git_email_is_unique(any_engine: Engine) -> None:
    _save(any_engine, User(git_email="a@example.com"))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, User(git_email="a@example.com"))


def test_new_users_get_the_spec_defaults(session: Session) -> None:
    user = _user()
    session.add(user)
    session.commit()

    assert (user.daily_reports_enabled, user.weekly_reports_enabled) == (True, True)
    assert user.email_reports_enabled is True
    assert user.week_start_day == 0
    assert user.is_demo is False
    assert user.signed_up_at is None


# Queues and claims --------------------------------------------------------------------------------
def test_core_inserts_get_the_column_defaults(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        conn.execute(sa.insert(WebhookEvent).values(delivery_id="d-1", event="ping"))

    with Session(any_engine) as session:
        envelope = session.exec(select(WebhookEvent)).one()

    assert (envelope.status, envelope.attempts, envelope.payload) == ("pending", 0, {})
    assert envelope.next_attempt_at.tzinfo is not None
    assert envelope.received_at.tzinfo is not None
    assert envelope.claimed_by is None


def test_a_replayed_delivery_id_is_rejected(any_engine: Engine) -> None:
    _save(any_engine, WebhookEvent(delivery_id="d-1", event="ping"))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, WebhookEvent(delivery_id="d-1", event="ping"))


def test_a_job_without_a_cursor_stores_sql_null(any_engine: Engine) -> None:
    installation = _installation()
    _save(any_engine, installation)
    batch = _batch(installation)
    _save(any_engine, batch)
    _save(
        any_engine,
        IngestionJob(
            batch_id=batch.id,
            installation_id=installation.id,
            repo_full_name="acme/api",
            trigger="manual",
            since=T0,
            cursor=None,
        ),
    )

    with any_engine.connect() as conn:
        nulls = conn.execute(sa.text("SELECT count(*) FROM ingestion_jobs WHERE cursor IS NULL"))
        assert nulls.scalar_one() == 1


def test_a_report_is_emailed_at_most_once_per_channel(any_engine: Engine) -> None:
    _save(any_engine, EmailDelivery(report_id=1, to_address="a@example.com"))

    with pytest.raises(sa.exc.IntegrityError):
        _save(any_engine, EmailDelivery(report_id=1, to_address="a@example.com"))


def test_claimable_tables_carry_claimed_by() -> None:
    for table in (WebhookEvent, IngestionJob, EmbeddingQueueItem, EmailDelivery):
        assert "claimed_by" in table.__table__.c
        assert table.__table__.c.claimed_by.nullable
