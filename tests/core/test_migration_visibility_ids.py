"""Migration 0006 pins existing sources and choices to the ids of the repositories stored then."""

import json

import pytest
import sqlalchemy as sa

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine

NOW = "2025-12-01 00:00:00"


def _seed_before_0006(url: str) -> None:
    migrate.upgrade(url, "0003")
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for gh_id, name in ((501, "acme/api"), (502, "acme/Web")):
                owner, repo = name.split("/")
                conn.execute(sa.text(
                    "INSERT INTO repos (gh_id, full_name, owner, name, is_private, is_fork, "
                    "is_archived, etags, created_at, updated_at) VALUES (:gh_id, :full_name, "
                    ":owner, :name, false, false, false, '{}', :now, :now)"),
                    {"gh_id": gh_id, "full_name": name, "owner": owner, "name": repo,
                     "now": NOW})
            conn.execute(sa.text(
                "INSERT INTO installations (kind, repositories, status, sync_status, "
                "recovery_attempts, created_at, updated_at) VALUES ('app', :names, 'active', "
                "'idle', 0, :now, :now)"),
                {"names": json.dumps(["acme/web", "acme/unsynced", "acme/api"]), "now": NOW})
            for name in ("ACME/API", "acme/unsynced"):
                conn.execute(sa.text(
                    "INSERT INTO tracked_repos (user_id, installation_id, repo_full_name, "
                    "tracked, created_at, updated_at) VALUES (1, 1, :name, false, :now, :now)"),
                    {"name": name, "now": NOW})
    finally:
        engine.dispose()


def _assert_pinned(url: str) -> None:
    migrate.upgrade(url)
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            listed = conn.execute(sa.text("SELECT repository_ids FROM installations")).scalar_one()
            choices = conn.execute(sa.text(
                "SELECT repo_full_name, repo_gh_id FROM tracked_repos ORDER BY id")).all()
    finally:
        engine.dispose()
    assert (json.loads(listed) if isinstance(listed, str) else listed) == [502, 501]
    assert [tuple(row) for row in choices] == [("ACME/API", 501), ("acme/unsynced", None)]


def test_sqlite_upgrade_pins_listed_names_and_choices_to_stored_ids(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'before.db'}"
    _seed_before_0006(url)
    _assert_pinned(url)


@pytest.mark.postgres
def test_postgres_upgrade_pins_listed_names_and_choices_to_stored_ids(pg_url: str) -> None:
    _seed_before_0006(pg_url)
    _assert_pinned(pg_url)
