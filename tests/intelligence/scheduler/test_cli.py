"""`python -m gitpulse_app tick [--at ISO] [--json]`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import Report, ReportJobHistory, SchedulerLease
from gitpulse_app.experience.cli.main import main
from tests.intelligence.scheduler.conftest import Town, utc

ROOT = Path(__file__).resolve().parents[3]
TALLY = {"users_attempted", "reports_generated", "reports_skipped", "errors"}
KEYS = {"at", "daily", "weekly", "syncs_requested", "webhooks_processed", "embeddings_processed",
        "emails_sent", "unblocked", "zombies", "batches_finalized"}


def tick_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["tick", *argv, "--json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return code, json.loads(out)


def test_json_has_exactly_the_keys_of_the_spec(town, capsys):
    town.user("asha", "Asia/Kolkata", daily_enabled_at=utc(2025, 12, 5))

    code, data = tick_json(capsys, "--at", "2025-12-05T18:30:00Z")

    assert code == 0
    assert set(data) == KEYS and set(data["daily"]) == TALLY and set(data["weekly"]) == TALLY
    assert data["at"] == "2025-12-05T18:30:00Z"
    assert data["daily"]["reports_generated"] == 1 and data["daily"]["users_attempted"] == 1
    assert all(isinstance(data[key], int) for key in KEYS - {"at", "daily", "weekly"})


def test_an_instant_with_an_offset_is_reported_in_utc(town, capsys):
    _, data = tick_json(capsys, "--at", "2025-12-06T00:00:00+05:30")

    assert data["at"] == "2025-12-05T18:30:00Z"


def test_human_output_summarises_the_tick(town, capsys):
    assert main(["tick", "--at", "2025-12-05T03:45:00Z"]) == 0

    out = capsys.readouterr().out
    assert "Tick at 2025-12-05T03:45:00Z" in out and "Daily jobs run: 03:45" in out


def test_bad_instant_is_bad_usage(capsys):
    assert main(["tick", "--at", "tomorrow", "--json"]) == 2
    assert "invalid ISO-8601" in json.loads(capsys.readouterr().out)["error"]


def test_tick_takes_no_lease_and_writes_no_heartbeat(town, session, capsys):
    tick_json(capsys, "--at", "2025-12-05T12:00:00Z")

    assert session.scalars(sa.select(SchedulerLease)).all() == []
    assert len(session.scalars(sa.select(ReportJobHistory)).all()) == 2


@pytest.fixture
def cli_database(tmp_path: Path) -> tuple[str, dict]:
    """A migrated SQLite file with a Kolkata and a Kathmandu user, and the CLI's environment."""
    url = f"sqlite:///{tmp_path / 'tick.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            town = Town(session)
            for login, zone in (("asha", "Asia/Kolkata"), ("bina", "Asia/Kathmandu")):
                user = town.user(login, zone, daily_enabled_at=utc(2025, 12, 5),
                                 weekly_reports_enabled=False)
                town.facts(user, [utc(2025, 12, 5, 6)])
    finally:
        set_engine(None)
        engine.dispose()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_",
                                "SMTP_"))}
    env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test", "DATABASE_URL": url}
    return url, env


def run_cli(env: dict, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitpulse_app", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def reports_in(url: str) -> list[tuple[str, str]]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return [(row.timezone, row.end_date) for row in conn.execute(
                sa.select(Report.timezone, Report.end_date).order_by(Report.id))]
    finally:
        engine.dispose()


def test_real_cli_1815z_makes_kathmandus_dec5_report_but_not_kolkatas(cli_database):
    url, env = cli_database

    result = run_cli(env, "tick", "--at", "2025-12-05T18:15Z", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["daily"] == {
        "users_attempted": 2, "reports_generated": 1, "reports_skipped": 0, "errors": 0}
    assert reports_in(url) == [("Asia/Kathmandu", utc(2025, 12, 5, 18, 15))]


def test_real_cli_1830z_makes_kolkatas_dec5_report_and_a_rerun_makes_nothing(cli_database):
    url, env = cli_database
    run_cli(env, "tick", "--at", "2025-12-05T18:15Z")

    first = run_cli(env, "tick", "--at", "2025-12-05T18:30:00Z", "--json")
    again = run_cli(env, "tick", "--at", "2025-12-05T18:30:00Z", "--json")

    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["daily"]["reports_generated"] == 1
    assert json.loads(again.stdout)["daily"]["reports_generated"] == 0
    assert sorted(reports_in(url)) == [("Asia/Kathmandu", utc(2025, 12, 5, 18, 15)),
                                       ("Asia/Kolkata", utc(2025, 12, 5, 18, 30))]
    assert first.stdout.count("\n") == 1 and '"level"' in first.stderr  # logs on stderr only


def test_real_cli_against_an_unmigrated_database_exits_1(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITPULSE_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}

    result = run_cli(env, "tick", "--json")

    assert result.returncode == 1
    assert "db upgrade" in json.loads(result.stdout)["error"]
