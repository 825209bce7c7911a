"""`python -m gitpulse_app report …`."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from gitpulse_app.core import migrate
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import Report
from gitpulse_app.experience.cli.main import main
from gitpulse_app.intelligence.windows import day_window, last_completed_day
from tests.intelligence.reports.conftest import World, pr

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def alice(world):
    user = world.user("alice")
    app = world.repo("acme/app", seen_by=(user,))
    dec4 = day_window(dt.date(2025, 12, 4), "America/Chicago")
    world.add(pr(app, user, 1, "Add search", dec4.start + dt.timedelta(hours=3)),
              pr(app, user, 2, "Fix login", dec4.start + dt.timedelta(hours=4)))
    return user, app


def report_json(capsys, *argv):
    code = main(["report", *argv, "--json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return code, json.loads(out)


def test_report_json_is_one_object_with_every_reports_column_and_cache_hit(alice, capsys):
    code, first = report_json(capsys, "--login", "alice", "--kind", "daily", "--end", "2025-12-04")
    _, second = report_json(capsys, "--login", "ALICE", "--kind", "daily", "--end", "2025-12-04")

    assert code == 0
    assert set(first) == set(Report.__table__.columns.keys()) | {"cache_hit"}
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["id"] == first["id"]
    assert (first["start_date"], first["end_date"]) == ("2025-12-04T06:00:00Z",
                                                        "2025-12-05T06:00:00Z")
    assert first["generated_at"].endswith("Z") and first["created_at"].endswith("Z")
    assert first["title"] == "Daily Standup - December 4, 2025"
    assert isinstance(first["sections"], list) and isinstance(first["coverage_breakdown"], list)
    assert first["citations"] == ["https://github.com/acme/app/pull/1",
                                  "https://github.com/acme/app/pull/2"]
    assert (first["provider"], first["origin"], first["event_count"]) == ("local", "manual", 2)


def test_weekly_end_date_covers_the_seven_local_days_ending_on_it(alice, capsys):
    _, report = report_json(capsys, "--login", "alice", "--kind", "weekly", "--end", "2025-12-04")

    assert (report["start_date"], report["end_date"]) == ("2025-11-28T06:00:00Z",
                                                          "2025-12-05T06:00:00Z")
    assert report["schedule_type"] is None  # alice's weeks start on Monday: a custom window
    assert report["title"] == "Weekly Report - Nov 28 - Dec 4, 2025"
    assert report["event_count"] == 2


def test_start_and_end_instants_are_taken_as_given(alice, capsys):
    _, report = report_json(capsys, "--login", "alice", "--kind", "daily",
                            "--start", "2025-12-04T09:00:00Z", "--end", "2025-12-04T09:30:00Z")

    assert (report["start_date"], report["end_date"]) == ("2025-12-04T09:00:00Z",
                                                          "2025-12-04T09:30:00Z")
    assert report["event_count"] == 1


def test_end_instant_alone_is_the_local_day_ending_there(alice, capsys):
    _, report = report_json(capsys, "--login", "alice", "--kind", "daily",
                            "--end", "2025-12-05T15:00:00Z")

    assert (report["start_date"], report["end_date"]) == ("2025-12-04T15:00:00Z",
                                                          "2025-12-05T15:00:00Z")


def test_no_dates_is_the_last_completed_local_day(world, alice, capsys):
    user, app = alice
    yesterday = last_completed_day(utcnow(), "America/Chicago")
    world.add(pr(app, user, 3, "Yesterday's work", yesterday.start + dt.timedelta(minutes=1)))

    _, report = report_json(capsys, "--login", "alice", "--kind", "daily")

    assert report["start_date"] == yesterday.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert report["citations"] == ["https://github.com/acme/app/pull/3"]


def test_a_focus_query_is_passed_on(alice, capsys):
    _, report = report_json(capsys, "--login", "alice", "--kind", "daily", "--end", "2025-12-04",
                            "--query", "login fix")

    assert report["query"] == "login fix"
    assert report["citations"][0] == "https://github.com/acme/app/pull/2"


def test_unknown_login_exits_1(alice, capsys):
    code = main(["report", "--login", "nobody", "--kind", "daily", "--json"])

    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out) == {"error": "No user with login nobody"}
    assert "No user with login nobody" in captured.err


def test_start_without_end_exits_2(capsys):
    assert main(["report", "--login", "alice", "--kind", "daily", "--start", "2025-12-01"]) == 2
    assert "--start needs --end" in capsys.readouterr().err


def test_human_output_names_the_report_and_prints_its_markdown(alice, capsys):
    assert main(["report", "--login", "alice", "--kind", "daily", "--end", "2025-12-04"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Daily Standup - December 4, 2025\n")
    assert "## Work Completed\n- acme/app: merged [PR #1]" in out


def alice_database(tmp_path: Path) -> str:
    """A migrated SQLite file with alice (UTC) and one merged PR on 2025-12-04; its URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = World(session)
            user = world.user("alice", timezone=None)
            app = world.repo("acme/app", seen_by=(user,))
            world.add(pr(app, user, 1, "Add search", dt.datetime(2025, 12, 4, 12, tzinfo=dt.UTC)))
    finally:
        set_engine(None)
        engine.dispose()
    return url


def test_the_real_command_line_process(tmp_path):
    url = alice_database(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test", "DATABASE_URL": url}

    result = subprocess.run(
        [sys.executable, "-m", "gitpulse_app", "report", "--login", "alice", "--kind", "daily",
         "--end", "2025-12-04", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["timezone"] == "UTC" and report["start_date"] == "2025-12-04T00:00:00Z"
    assert report["citations"] == ["https://github.com/acme/app/pull/1"]
    assert report["cache_hit"] is False


def test_a_daily_of_a_day_off_is_refused_and_monday_covers_the_weekend(world, capsys):
    user = world.user("mona", work_days="12345")
    app = world.repo("acme/app", seen_by=(user,))
    saturday = day_window(dt.date(2025, 12, 6), "America/Chicago")
    world.add(pr(app, user, 7, "Weekend hotfix", saturday.start + dt.timedelta(hours=10)))

    code = main(["report", "--login", "mona", "--kind", "daily", "--end", "2025-12-06"])
    err = capsys.readouterr().err
    assert code == 1 and "2025-12-06 is not a work day for mona" in err

    code, monday = report_json(capsys, "--login", "mona", "--kind", "daily", "--end", "2025-12-08")
    assert code == 0
    assert (monday["start_date"], monday["end_date"]) == ("2025-12-06T06:00:00Z",
                                                          "2025-12-09T06:00:00Z")
    assert monday["title"] == "Daily Standup - December 8, 2025"
    assert monday["schedule_type"] == "daily"
    assert monday["citations"] == ["https://github.com/acme/app/pull/7"]

    code, manual = report_json(capsys, "--login", "mona", "--kind", "daily",
                               "--start", "2025-12-06", "--end", "2025-12-06")
    assert code == 0 and manual["schedule_type"] is None and manual["event_count"] == 1
