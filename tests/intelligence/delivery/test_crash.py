"""SIGKILL mid-send: one "Delivery outcome unknown" row and never a second message."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gitpulse_app.core.claims import holder_is_dead
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import EmailDelivery
from gitpulse_app.intelligence.delivery import OUTCOME_UNKNOWN, drain, enqueue_report_email
from tests.intelligence.delivery.conftest import BASE_URL, T0, make_owner, make_report

ROOT = Path(__file__).resolve().parents[3]
CHILD = "from gitpulse_app.intelligence.delivery import drain; drain()"


class HangingSMTP:
    """Accepts one message's DATA and then never answers, like a server that stalls after DATA."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.data_received = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.listener.accept()
            with connection, connection.makefile("rb") as reader:
                connection.sendall(b"220 hang.test ESMTP\r\n")
                while True:
                    line = reader.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        connection.sendall(b"250-hang.test\r\n250 8BITMIME\r\n")
                    elif verb == b"DATA":
                        connection.sendall(b"354 go ahead\r\n")
                        while reader.readline() not in (b".\r\n", b".\n", b""):
                            pass
                        self.data_received.set()
                        self.release.wait(30)  # never acknowledge the message
                        return
                    elif verb == b"QUIT":
                        connection.sendall(b"221 bye\r\n")
                        return
                    else:
                        connection.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.release.set()
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def file_engine(tmp_path, sqlite_template):
    path = tmp_path / "crash.db"
    with contextlib.closing(sqlite3.connect(path)) as target:
        sqlite_template.backup(target)
    engine = create_db_engine(f"sqlite:///{path}")
    set_engine(engine)
    yield engine, f"sqlite:///{path}"
    set_engine(None)
    engine.dispose()


def test_sigkill_mid_send_leaves_one_outcome_unknown_row_and_no_second_message(
    file_engine, configure, fake_smtp
):
    engine, url = file_engine
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL=BASE_URL)
    with Session(engine, expire_on_commit=False) as session:
        owner = make_owner(session)
        report = make_report(session, owner)
    assert enqueue_report_email(report.id, now=T0).status == "pending"

    hanging = HangingSMTP()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url,
           "SMTP_URL": f"smtp://127.0.0.1:{hanging.port}", "GITPULSE_BASE_URL": BASE_URL}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert hanging.data_received.wait(30), child.stderr.read1().decode() if child.poll() else ""
        with Session(engine) as session:
            row = session.exec(select(EmailDelivery)).one()
        assert row.status == "sending" and row.claimed_by.split(":")[1] == str(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        hanging.close()
    assert holder_is_dead(row.claimed_by)

    # The next drain (the zombie sweep) marks it failed at once; later drains never re-send it.
    for at in (T0, T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=30)):
        assert drain(now=at) == 0
    with Session(engine) as session:
        rows = session.exec(select(EmailDelivery)).all()
    assert [(r.status, r.last_error, r.attempts) for r in rows] == [("failed", OUTCOME_UNKNOWN, 1)]
    assert fake_smtp.messages == []

