import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from gitpulse_app.experience.cli.main import main

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITPULSE_", "GITHUB_"))}
    base |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test"} | (env or {})
    return subprocess.run([sys.executable, "-m", "gitpulse_app", *args], cwd=cwd or ROOT,
                          env=base, capture_output=True, text=True, timeout=120)


def test_unknown_command_prints_usage_and_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "usage: python -m gitpulse_app" in captured.err
    assert "frobnicate" in captured.err


def test_unknown_flag_exits_2_with_usage(capsys):
    assert main(["tick", "--bogus"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_usage_with_json_prints_one_error_object(capsys):
    assert main(["tick", "--at", "not-a-time", "--json"]) == 2
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == ["error"]
    assert captured.out.count("\n") == 1
    assert "invalid ISO-8601 timestamp" in captured.err


def test_bad_kind_exits_2(capsys):
    assert main(["report", "--login", "a", "--kind", "hourly"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_report_start_without_end_exits_2(capsys):
    assert main(["report", "--login", "a", "--kind", "daily", "--start", "2025-12-01"]) == 2
    assert "--start needs --end" in capsys.readouterr().err


def test_db_upgrade_migrates_the_database_named_by_database_url(tmp_path):
    db = tmp_path / "cli.db"
    result = run_cli("db", "upgrade", "--json", env={"DATABASE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["revision"]
    tables = set(sa.inspect(sa.create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"users", "events", "webhook_events", "auth_sessions"} <= tables


def test_db_upgrade_against_an_unreachable_database_names_the_host(tmp_path):
    result = run_cli("db", "upgrade", env={
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Cannot connect to the database at 127.0.0.1:1")
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_db_upgrade_creates_every_table_on_postgres(pg_url):
    result = run_cli("db", "upgrade", env={"DATABASE_URL": pg_url})
    assert result.returncode == 0, result.stderr
    tables = set(sa.inspect(sa.create_engine(pg_url)).get_table_names())
    assert {
        "users", "repos", "events", "embeddings", "reports", "ingestion_jobs", "installations",
        "webhook_events", "coverage_candidates", "embedding_queue", "report_job_history",
        "sync_batches", "user_installations", "tracked_repos", "report_regenerations",
        "auth_sessions", "email_deliveries",
    } <= tables


UNMIGRATED = "check DATABASE_URL and run `db upgrade`."


@pytest.mark.parametrize("argv", [
    ["search", "login flow", "--login", "alice"],
    ["export", "--login", "alice", "--format", "csv"],
    ["export", "--login", "alice", "--format", "md"],
])
@pytest.mark.parametrize("as_json", [False, True])
def test_search_and_export_on_an_unmigrated_database_exit_1_with_the_db_upgrade_hint(
    tmp_path, argv, as_json
):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run_cli(*argv, *(["--json"] if as_json else []), env={"DATABASE_URL": url})

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("Cannot use the database at ") and message.endswith(UNMIGRATED)
    assert result.stdout == (json.dumps({"error": message}) + "\n" if as_json else "")


@pytest.mark.postgres
@pytest.mark.parametrize("argv", [["search", "login flow", "--login", "alice", "--json"],
                                  ["export", "--login", "alice", "--format", "csv", "--json"]])
def test_search_and_export_on_an_unmigrated_postgres_database_print_one_error_object(
    pg_url, argv
):
    result = run_cli(*argv, env={"DATABASE_URL": pg_url})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"].endswith(UNMIGRATED)
