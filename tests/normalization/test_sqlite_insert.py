"""The SQLite fact insert: multi-row statements bound by the columns' own processors, and the ids
of exactly the rows each statement added read back (docs/ingest-profile.md, "Second round")."""

import datetime as dt

import pytest
import sqlalchemy as sa

from gitpulse_app.core.tables.facts import Event
from gitpulse_app.normalization import store
from gitpulse_app.normalization.canonicalize_rest import canonicalize_rest_commit
from gitpulse_app.normalization.resolver import IdentityResolver
from tests.support.payloads import rest_commit, rest_repo, user

NOW = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)


def _folds(session, count: int):
    repo = rest_repo(id=700, full_name="acme/api", name="api")
    facts = []
    for index in range(count):
        facts += canonicalize_rest_commit(
            rest_commit(f"{index + 1:040x}", author=user(f"dev{index % 3}", 900 + index % 3)), repo)
    resolver = IdentityResolver(session, github_url="https://github.com", now=NOW)
    return list(store._fold(session, facts, resolver, None).values())


def _ids_by_key(session) -> dict[tuple[str, str], int]:
    rows = session.execute(sa.select(Event.type, Event.source_url, Event.id)).all()
    return {(fact_type, url): event_id for fact_type, url, event_id in rows}


def _raw_rows(session) -> list[tuple]:
    """Every events row exactly as SQLite stores it (text timestamps, JSON text), id left out."""
    result = session.connection().exec_driver_sql("SELECT * FROM events ORDER BY source_url")
    return [row[1:] for row in result.all()]


@pytest.mark.parametrize("chunk", [1000, 2])
def test_the_ids_read_back_are_those_of_the_rows_the_statements_added(session, monkeypatch,
                                                                      chunk):
    monkeypatch.setattr(store, "SQLITE_INSERT_CHUNK", chunk)
    folds = _folds(session, 5)
    # Another writer stored two of the batch's facts between the lookup and the insert.
    store._insert_sqlite(session, [folds[1], folds[3]], "webhook", NOW)

    inserted = store._insert_sqlite(session, folds, "backfill", NOW)

    stored = _ids_by_key(session)
    assert len(stored) == 5
    added = [folds[0], folds[2], folds[4]]
    assert inserted == {(fold.type, fold.source_url): stored[(fold.type, fold.source_url)]
                        for fold in added}


def test_a_statement_that_adds_nothing_reads_nothing_back(session):
    folds = _folds(session, 2)
    store._insert_sqlite(session, folds, "webhook", NOW)

    assert store._insert_sqlite(session, folds, "backfill", NOW) == {}


def test_rows_are_bound_as_sqlalchemy_binds_them(session):
    folds = _folds(session, 3)
    store._insert_sqlite(session, folds, "backfill", NOW)
    fast = _raw_rows(session)
    session.execute(sa.delete(Event))

    session.execute(sa.insert(Event.__table__), [fold.insert_row("backfill", NOW) for fold in folds])

    assert _raw_rows(session) == fast
    created = session.connection().exec_driver_sql("SELECT DISTINCT created_at FROM events").all()
    assert created == [(NOW.isoformat(timespec="microseconds"),)]
