"""Database fixtures (a pytest plugin, listed in tests/conftest.py).

- `engine` / `session`: a fresh in-memory SQLite per test, at the migrated head. Alembic runs once
  per session (per xdist worker) into a template file; each test copies it in with the backup API.
- `pg_url` / `pg_engine`: a throwaway PostgreSQL database for tests marked `postgres` (empty, or
  copied from a template migrated once per session and worker).
- `any_engine`: runs the test once on each backend.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool
from sqlmodel import Session

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine, describe_host, set_engine

PG_ADMIN_URL = os.environ.get(
    "GITPULSE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """An in-memory copy of a SQLite database migrated to head, made once per session and worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = tmp_path_factory.mktemp(f"sqlite-template-{worker}") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    template = sqlite3.connect(":memory:", check_same_thread=False)
    with contextlib.closing(sqlite3.connect(path)) as migrated:
        migrated.backup(template)
    yield template
    template.close()


@pytest.fixture
def engine(sqlite_template: sqlite3.Connection) -> Iterator[Engine]:
    """A fresh, migrated in-memory SQLite engine, also the process-wide engine for the test."""
    # StaticPool: every checkout gets the one connection that holds the in-memory database.
    test_engine = create_db_engine("sqlite://", poolclass=StaticPool)
    raw = test_engine.raw_connection()
    try:
        sqlite_template.backup(raw.driver_connection)
    finally:
        raw.close()
    with process_engine(test_engine):
        yield test_engine


@contextlib.contextmanager
def process_engine(engine: Engine) -> Iterator[Engine]:
    """`engine` as the process-wide engine until the block ends; then unset and disposed."""
    set_engine(engine)
    try:
        yield engine
    finally:
        set_engine(None)
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test's SQLite database."""
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture
def sqlite_file_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite file other processes can open too, also the process-wide engine."""
    file_engine = create_db_engine(f"sqlite:///{tmp_path / 'gitpulse.db'}")
    migrate.upgrade(file_engine.url.render_as_string(hide_password=False))
    with process_engine(file_engine):
        yield file_engine


def _require_postgres_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail("tests that use PostgreSQL must be marked @pytest.mark.postgres", pytrace=False)


@contextlib.contextmanager
def _throwaway_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template` if given), dropped WITH (FORCE) after."""
    admin = create_db_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(6)}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy_of}')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {describe_host(PG_ADMIN_URL)} is not reachable ({exc.orig}). "
            'Start it, or deselect these tests with -m "not postgres".',
            pytrace=False,
        )
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty, throwaway PostgreSQL database `gitpulse_test_<random>`."""
    _require_postgres_marker(request)
    with _throwaway_database("gitpulse_test") as url:
        yield url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head, once per session and xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with _throwaway_database(f"gitpulse_test_template_{worker}") as url:
        migrate.upgrade(url)
        yield make_url(url).database


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest, pg_template: str) -> Iterator[Engine]:
    """A migrated throwaway PostgreSQL database's engine, also the process-wide engine."""
    _require_postgres_marker(request)
    # Copying the migrated template is about twice as fast as migrating an empty database.
    with _throwaway_database("gitpulse_test", template=pg_template) as url:
        with process_engine(create_db_engine(url)) as test_engine:
            yield test_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine on each backend in turn: in-memory SQLite, then PostgreSQL."""
    return request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
