import csv
import datetime as dt
import io
import json

import pytest

from gitpulse_app.core.clock import utcnow
from gitpulse_app.experience.cli.main import main
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import last_completed_day
from tests.intelligence.reports.conftest import World, commit


def _world(session):
    world = World(session)
    alice = world.user("alice", timezone="UTC")
    bob = world.user("bob", timezone="UTC")
    repo = world.repo("acme/api", seen_by=(alice,))
    hidden = world.repo("acme/secret", seen_by=(bob,))
    yesterday = last_completed_day(utcnow(), "UTC")
    world.add(commit(repo, alice, "=SUM(A1) looks like a formula", yesterday.start + dt.timedelta(hours=2)),
              commit(hidden, bob, "Not for alice", yesterday.start + dt.timedelta(hours=3)))
    return world, alice, yesterday


def test_export_csv_lists_only_visible_facts_with_the_contract_columns(session, capsys):
    _world(session)
    capsys.readouterr()  # what storing the facts logged is not the command's output
    assert main(["export", "--login", "alice", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["ts_utc", "local_date", "type", "repo", "actor", "canonical_text",
                       "source_url", "additions", "deletions", "files_changed", "content_hash"]
    assert [r[3] for r in rows[1:]] == ["acme/api"]
    assert rows[1][5].startswith("'") is False and "=SUM" in rows[1][5]


def test_export_md_joins_the_users_reports(session, capsys):
    _, alice, yesterday = _world(session)
    generate_report(alice.id, "daily", yesterday.start, yesterday.end, origin="manual")
    capsys.readouterr()  # what storing the facts and the report logged is not the command's output
    start = (yesterday.start - dt.timedelta(days=1)).isoformat()
    end = (yesterday.end + dt.timedelta(days=1)).isoformat()
    assert main(["export", "--login", "alice", "--format", "md", "--start", start, "--end", end,
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["count"] == 1
    assert payload["content"].startswith("# Daily Standup - ")
    assert "https://github.com/acme/api/commit/" in payload["content"]


def test_export_for_an_unknown_login_exits_1(session, capsys):
    assert main(["export", "--login", "nobody", "--format", "csv"]) == 1
    assert "No user with login nobody" in capsys.readouterr().err


@pytest.mark.parametrize("bound", ["--start", "--end"])
def test_export_with_only_one_bound_is_bad_usage_exiting_2(session, capsys, bound):
    assert main(["export", "--login", "alice", "--format", "csv", bound,
                 "2025-12-01T00:00:00Z", "--json"]) == 2
    captured = capsys.readouterr()
    assert "usage:" in captured.err and "both --start and --end" in captured.err
    assert json.loads(captured.out) == {"error": "Give both --start and --end, or neither"}
