"""Alembic owns the schema: upgrade, downgrade, and no drift between models and migrations."""

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from gitpulse_app.core import migrate
from gitpulse_app.core.db import DatabaseUnavailable, create_db_engine

# Every table the app's schema has.
CONTRACT_TABLES = {
    "users",
    "repos",
    "events",
    "embeddings",
    "reports",
    "ingestion_jobs",
    "installations",
    "webhook_events",
    "coverage_candidates",
    "embedding_queue",
    "report_job_history",
    "sync_batches",
    "user_installations",
    "tracked_repos",
    "report_regenerations",
    "auth_sessions",
    "email_deliveries",
    "scheduler_leases",
    "api_tokens",  # issue "GitPulse as a source of truth" (docs/API.md)
    # Issue 18 (channels, docs/CHANNELS.md).
    "delivery_channels",
    "channel_deliveries",
    "fact_versions",  # issue 16: search's candidate cache (docs/SEARCH_MEMORY.md)
}


def _table_names(url: str) -> set[str]:
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _assert_round_trip(url: str) -> None:
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert _table_names(url) == CONTRACT_TABLES

    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _table_names(url) == set()

    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert _table_names(url) == CONTRACT_TABLES


def test_every_model_table_is_a_contract_table() -> None:
    assert set(SQLModel.metadata.tables) == CONTRACT_TABLES


def test_sqlite_upgrades_downgrades_to_base_and_upgrades_again(tmp_path) -> None:
    _assert_round_trip(f"sqlite:///{tmp_path / 'gitpulse.db'}")


@pytest.mark.postgres
def test_postgres_upgrades_downgrades_to_base_and_upgrades_again(pg_url: str) -> None:
    _assert_round_trip(pg_url)


def test_a_never_migrated_database_has_no_current_revision(tmp_path) -> None:
    assert migrate.current(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_autogenerate_finds_no_drift_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'gitpulse.db'}"
    migrate.upgrade(url)
    assert migrate.autogenerate_diff(url) == []


@pytest.mark.postgres
def test_autogenerate_finds_no_drift_on_postgres(pg_url: str) -> None:
    migrate.upgrade(pg_url)
    assert migrate.autogenerate_diff(pg_url) == []


def test_autogenerate_notices_a_missing_index(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'gitpulse.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_ts")
    engine.dispose()

    diff = migrate.autogenerate_diff(url)

    assert [(op[0], op[1].name) for op in diff] == [("add_index", "ix_events_ts")]


def test_upgrade_names_the_host_when_the_database_is_unreachable() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"127\.0\.0\.1:1\b"):
        migrate.upgrade("postgresql+psycopg://postgres@127.0.0.1:1/gitpulse")


def test_upgrade_of_an_unopenable_sqlite_file_names_the_file(tmp_path) -> None:
    missing = tmp_path / "no-such-dir" / "gitpulse.db"
    with pytest.raises(DatabaseUnavailable, match="no-such-dir"):
        migrate.upgrade(f"sqlite:///{missing}")


def test_upgrade_defaults_to_the_database_url_setting(tmp_path, configure) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    configure(DATABASE_URL=url)

    migrate.upgrade()

    assert migrate.current() == migrate.head()
    assert migrate.current(url) == migrate.head()


def test_the_migrated_sqlite_fixture_is_at_head(engine) -> None:
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    assert version == migrate.head()
