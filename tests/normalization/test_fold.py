"""A fold's new row: every value under its own column (normalization/fold.py, fact_rows.py)."""

import datetime as dt

from gitpulse_app.core.models import User
from gitpulse_app.normalization.fact_rows import INSERT_COLUMNS
from gitpulse_app.normalization.fold import Fold
from gitpulse_app.normalization.models import ActorRef, Metrics

TS = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
UPDATED = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 1, 4, tzinfo=dt.UTC)


def test_insert_row_names_every_column_with_its_own_value():
    fold = Fold(
        type="commit", source_url="https://github.com/o/r/commit/abc", repo_id=3,
        actor=User(id=5, gh_login="alice"), actor_ref=ActorRef(login="alice"), ts=TS,
        metrics=Metrics(1, 2, 3), metadata={"sha": "abc"}, gh_id="abc", gh_node_id="C_1",
        installation_id=9, source_updated_at=UPDATED, canonical_text="Commit abc by alice",
        content_hash="f" * 64,
    )
    row = fold.insert_row("backfill", NOW)
    assert list(row) == list(INSERT_COLUMNS)
    assert row == {
        "type": "commit", "source_url": "https://github.com/o/r/commit/abc", "repo_id": 3,
        "ts": TS, "actor_id": 5, "installation_id": 9, "canonical_text": "Commit abc by alice",
        "additions": 1, "deletions": 2, "files_changed": 3, "metadata": {"sha": "abc"},
        "content_hash": "f" * 64, "gh_id": "abc", "gh_node_id": "C_1",
        "source_updated_at": UPDATED, "observed_via": "backfill", "created_at": NOW,
        "updated_at": NOW,
    }
