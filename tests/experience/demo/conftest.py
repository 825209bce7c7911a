"""Helpers for the demo workspace tests: a fixed clock and whole-database snapshots."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from gitpulse_app.core.config import reload_settings
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.experience.demo.seed import SeedResult, seed_demo
from tests.support.env import CONTRACT_VARS

# A Friday afternoon: the last 7 days hold five weekdays and a weekend.
NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)


def snapshot(engine: Engine) -> dict[tuple[str, tuple[Any, ...]], dict[str, Any]]:
    """Every row of every table, keyed by (table, primary key)."""
    rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            key_columns = [column.name for column in table.primary_key.columns]
            for row in conn.execute(sa.select(table)).mappings():
                rows[(table.name, tuple(row[name] for name in key_columns))] = dict(row)
    return rows


def _copy(source: sqlite3.Connection, engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        source.backup(raw.driver_connection)
    finally:
        raw.close()


@pytest.fixture(scope="module")
def seeded_template(
    sqlite_template: sqlite3.Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[sqlite3.Connection, SeedResult]]:
    """A database seeded once per module (at NOW, no webhook secret), to copy into tests."""
    with pytest.MonkeyPatch.context() as patch:
        # The same clean configuration `tests.support.env.clean_env` gives each test.
        for name in CONTRACT_VARS:
            patch.delenv(str(name), raising=False)
        patch.setenv("GITPULSE_SECRET_KEY", "test-secret-key")
        patch.chdir(tmp_path_factory.mktemp("seed-cwd"))
        reload_settings()
        engine = create_db_engine("sqlite://", poolclass=StaticPool)
        _copy(sqlite_template, engine)
        set_engine(engine)
        try:
            result = seed_demo(now=NOW)
        finally:
            set_engine(None)
            reload_settings()
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    raw = engine.raw_connection()
    try:
        raw.driver_connection.backup(copy)
    finally:
        raw.close()
        engine.dispose()
    yield copy, result
    copy.close()


@pytest.fixture
def seeded(engine: Engine, seeded_template: tuple[sqlite3.Connection, SeedResult]) -> SeedResult:
    """The test's database holds the seeded demo workspace; returns what the seed did."""
    template, result = seeded_template
    _copy(template, engine)
    return result
