"""Processing across processes: crashes, concurrent drains, the CLI and the in-process worker."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import Event, WebhookEvent
from gitpulse_app.experience.cli.main import main
from gitpulse_app.experience.http.app import create_api
from tests.acquisition.webhooks.conftest import (
    accept_fact_writes,
    post_webhook,
    refuse_fact_writes,
)
from tests.support.payloads import load_webhook

ROOT = Path(__file__).resolve().parents[3]

# Drains in a child process that hangs at its first statement after claiming an envelope, having
# written `marker`: the moment to kill it is when it holds the claim and has stored nothing.
HANGING_DRAIN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import sqlalchemy as sa
    from gitpulse_app.core.db import get_engine
    from gitpulse_app.acquisition.webhooks import processor

    marker = Path(sys.argv[1])
    claimed = []

    def after(conn, cursor, statement, *args):
        # The claim: the one UPDATE of an envelope that counts an attempt.
        if statement.startswith("UPDATE webhook_events") and "attempts" in statement:
            claimed.append(True)

    def before(conn, cursor, statement, *args):
        if claimed and "webhook_events" not in statement:
            marker.write_text("claimed")
            time.sleep(600)

    sa.event.listen(get_engine(), "after_cursor_execute", after)
    sa.event.listen(get_engine(), "before_cursor_execute", before)
    processor.drain()
    """
)

DRAIN = "from gitpulse_app.acquisition.webhooks import processor; processor.drain()"


def child_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITPULSE_", "GITHUB_"))}
    return env | {"PYTHONPATH": str(ROOT), "DATABASE_URL": db_url,
                  "GITPULSE_SECRET_KEY": "child-secret"}


def run_cli(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitpulse_app", *args], cwd=cwd,
                          env=child_env(db_url), capture_output=True, text=True, timeout=120)


def stored(engine, delivery_id: str) -> WebhookEvent:
    with Session(engine) as session:
        return session.exec(
            select(WebhookEvent).where(WebhookEvent.delivery_id == delivery_id)
        ).one()


def fact_count(engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Event)).all())


@pytest.mark.slow
def test_envelope_whose_processor_was_sigkilled_is_processed_once_after_restart(
    file_client, file_engine, db_file_url, tmp_path
):
    post_webhook(file_client, "pull_request", load_webhook("pull_request", "opened"),
                 delivery="killed")
    marker = tmp_path / "claimed"
    child = subprocess.Popen([sys.executable, "-c", HANGING_DRAIN, str(marker)], cwd=tmp_path,
                             env=child_env(db_file_url), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "the child never claimed the envelope"
            time.sleep(0.05)
        envelope = stored(file_engine, "killed")
        assert (envelope.status, envelope.attempts) == ("processing", 1)
        assert str(child.pid) in envelope.claimed_by
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()  # reaped: the pid is gone, so its claim is dead at once
    assert fact_count(file_engine) == 0

    restarted = run_cli(db_file_url, tmp_path, "webhooks", "process", "--json")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout) == {"processed": 1, "completed": 1, "failed": 0,
                                            "retried": 0}
    envelope = stored(file_engine, "killed")
    assert (envelope.status, envelope.attempts) == ("completed", 2)
    assert fact_count(file_engine) == 1
    again = run_cli(db_file_url, tmp_path, "webhooks", "process", "--json")
    assert json.loads(again.stdout)["processed"] == 0
    assert fact_count(file_engine) == 1


@pytest.mark.slow
def test_retry_failed_replays_a_dead_letter_from_the_cli(file_client, file_engine, db_file_url,
                                                         tmp_path):
    refuse_fact_writes(file_engine)
    post_webhook(file_client, "pull_request", load_webhook("pull_request", "opened"),
                 delivery="dead")
    now = utcnow()
    for _ in range(processor.MAX_ATTEMPTS):
        processor.drain(now=now)
        now += processor.retry_delay(processor.MAX_ATTEMPTS)
    assert stored(file_engine, "dead").status == "failed"
    accept_fact_writes(file_engine)

    plain = run_cli(db_file_url, tmp_path, "webhooks", "process")
    assert plain.returncode == 0, plain.stderr
    assert "Processed 0 webhook envelope(s)" in plain.stdout
    assert stored(file_engine, "dead").status == "failed"

    replay = run_cli(db_file_url, tmp_path, "webhooks", "process", "--retry-failed", "--json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout) == {"processed": 1, "completed": 1, "failed": 0,
                                         "retried": 1}
    envelope = stored(file_engine, "dead")
    assert (envelope.status, envelope.attempts) == ("completed", 1)
    assert fact_count(file_engine) == 1


@pytest.mark.slow
def test_concurrent_drains_in_several_processes_process_each_envelope_once(
    file_client, file_engine, db_file_url, tmp_path
):
    for index in range(60):
        post_webhook(file_client, "ping", {"zen": str(index)}, delivery=f"race-{index}")
    children = [
        subprocess.Popen([sys.executable, "-c", DRAIN], cwd=tmp_path, env=child_env(db_file_url),
                         stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with Session(file_engine) as session:
        rows = session.exec(select(WebhookEvent)).all()
    assert len(rows) == 60
    assert {(row.status, row.attempts) for row in rows} == {("completed", 1)}


def test_cli_process_prints_a_summary_and_a_json_object(client, capsys):
    post_webhook(client, "ping", {"zen": "cli"})
    payload = load_webhook("pull_request", "opened")
    del payload["pull_request"]["number"]
    post_webhook(client, "pull_request", payload)
    capsys.readouterr()  # what receiving the deliveries logged is not the command's output
    assert main(["webhooks", "process", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"processed": 2, "completed": 1, "failed": 1, "retried": 0}
    assert out.count("\n") == 1
    assert main(["webhooks", "process", "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "Processed 1 webhook envelope(s): 0 completed, 1 failed" in out
    assert "1 failed envelope(s) were reset for replay" in out


def test_pull_request_webhook_is_processed_within_one_second_of_the_ack(file_engine,
                                                                       webhook_secret):
    with TestClient(create_api(with_workers=True)) as live:
        time.sleep(0.3)  # the worker has started and finished its first poll
        response = post_webhook(live, "pull_request", load_webhook("pull_request", "opened"),
                                delivery="fast")
        acked = time.monotonic()
        assert response.status_code == 200
        while stored(file_engine, "fast").status != "completed":
            assert time.monotonic() - acked < 1.0, "not processed within 1 s of the ack"
            time.sleep(0.02)
    assert fact_count(file_engine) == 1
