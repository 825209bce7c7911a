"""The fault suite's tools: a backend process we can SIGKILL, signed deliveries, PostgreSQL levers.

`Backend` is `uvicorn gitpulse_app.api:app` in a child process, with every in-process worker
(webhooks, sync, embeddings, email, scheduler), on the test's throwaway PostgreSQL database. The
levers act on PostgreSQL from outside the app: hold a table lock so a worker blocks mid-transaction
at a known point, cut every connection, or refuse new ones for a while.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from gitpulse_app.acquisition.webhooks.signature import sign
from gitpulse_app.core.logging import JsonFormatter
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from tests.support.db import PG_ADMIN_URL
from tests.support.doubles import (
    DoubleProcessing,
    completion_lines,
    count_double_processing,
    parse_log_lines,
    read_log_records,
)
from tests.support.payloads import load_webhook

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "fault-suite-webhook-secret"
SECRET_KEY = "test-secret-key"  # the test process's key (tests/support/env.py): tokens decrypt
WEBHOOK_PATH = "/api/webhooks/github"
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, message: str,
             interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy; fail with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (after {timeout} s)")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


# The backend process -------------------------------------------------------------------------------
class Backend:
    """`uvicorn gitpulse_app.api:app` in a child process: started, SIGKILLed, started again.

    A restart keeps the port, as a supervisor restarting the service would. Each run logs to its own
    file under `workdir`.

    Args:
        database_url: The PostgreSQL database.
        workdir: Working directory (no `.env` there) and log files.
        env: Extra environment (webhook secret, fake GitHub, fake SMTP, …).
    """

    def __init__(self, database_url: str, workdir: Path, env: Mapping[str, str]) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.env = dict(env)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.runs: list[Path] = []
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the backend is not running"
        return self.process.pid

    def _environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("GITPULSE_", "GITHUB_", "OPENAI_", "VOYAGE_", "SMTP_",
                                          "DATABASE_URL", "REDIS_URL"))}
        # Unbuffered: the log file is read (double-processing counts) while the process runs.
        return inherited | {"PYTHONPATH": str(ROOT), "DATABASE_URL": self.database_url,
                            "GITPULSE_SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"} | self.env

    def launch(self) -> Backend:
        """Start the process without waiting for it to answer."""
        log_path = self.workdir / f"backend-{self.port}-run{len(self.runs) + 1}.log"
        self.runs.append(log_path)
        with log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "gitpulse_app.api:app", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
                cwd=self.workdir, env=self._environment(), stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> Backend:
        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"the backend exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200
            return False

        wait_for(ready, timeout, "the backend never answered /api/health", interval=0.1)
        return self

    def start(self) -> Backend:
        return self.launch().wait_ready()

    def kill(self) -> int:
        """SIGKILL the process and reap it (its pid is gone, so its claims are dead at once)."""
        process = self.process
        assert process is not None and process.poll() is None, "the backend is not running"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.kills += 1
        self.process = None
        return process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return "".join(path.read_text(errors="replace") for path in self.runs)[-chars:]


RUN_BACKEND_PROD = ("from reflex_base.constants import LogLevel\n"
                    "from reflex.utils.exec import run_backend_prod\n"
                    "import sys\n"
                    "run_backend_prod('127.0.0.1', int(sys.argv[1]), LogLevel.WARNING, False)\n")


@contextlib.contextmanager
def reflex_prod_backend(workdir: Path, port: int, env: Mapping[str, str],
                        ready: Callable[[subprocess.Popen], bool] = lambda _p: True,
                        ) -> Iterator[tuple[subprocess.Popen, Path]]:
    """Reflex's prod backend as `reflex run --env prod` starts it after its build, run from
    `workdir` (the package linked in, no `.env`) on `port`; yields the supervisor and its log once
    `/_health` answers and `ready(supervisor)` holds."""
    for name in ("gitpulse_app", "assets"):
        (workdir / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "rxconfig.py", workdir / "rxconfig.py")
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("GITPULSE_", "GITHUB_", "DATABASE_URL", "REDIS_URL"))}
    inherited |= {"REFLEX_ENV_MODE": "prod", "__REFLEX_SKIP_COMPILE": "true",
                  "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false"}
    log_path = workdir / "prod.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-c", RUN_BACKEND_PROD, str(port)],
                                   cwd=workdir, env=inherited | dict(env), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/_health", timeout=1)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and ready(process)

        wait_for(up, 90, "the prod backend never came up", interval=0.2)
        yield process, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Signed deliveries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    """A signed webhook delivery and the one fact (type, source URL) processing must store."""

    delivery_id: str
    event: str
    body: bytes
    fact: tuple[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-GitHub-Event": self.event, "X-GitHub-Delivery": self.delivery_id,
                "X-Hub-Signature-256": sign(self.body, WEBHOOK_SECRET),
                "Content-Type": "application/json"}


def _numbered(event: str, n: int) -> dict[str, Any]:
    if event == "pull_request":
        payload = load_webhook("pull_request", "opened")
        repo = payload["repository"]["full_name"]
        payload["number"] = payload["pull_request"]["number"] = n
        payload["pull_request"]["html_url"] = f"https://github.com/{repo}/pull/{n}"
    elif event == "issues":
        payload = load_webhook("issues", "opened")
        repo = payload["repository"]["full_name"]
        payload["issue"]["number"] = n
        payload["issue"]["html_url"] = f"https://github.com/{repo}/issues/{n}"
    else:
        payload = load_webhook("push", "with-new-branch")
        repo = payload["repository"]["full_name"]
        sha = f"{n:040x}"
        payload["commits"][0].update(id=sha, url=f"https://github.com/{repo}/commit/{sha}")
        payload["head_commit"] = payload["commits"][0]
    return payload


def make_deliveries(count: int, prefix: str, first_number: int = 1) -> list[Delivery]:
    """`count` deliveries (pull request, issue, push in turn), each with its own id and fact."""
    events = ("pull_request", "issues", "push")
    made = []
    for index in range(count):
        event = events[index % len(events)]
        payload = _numbered(event, first_number + index)
        (fact,) = canonicalize_webhook(event, payload)
        made.append(Delivery(f"{prefix}-{index}-{secrets.token_hex(3)}", event,
                             json.dumps(payload).encode(), (fact.type, fact.source_url)))
    return made


def deliver(client: httpx.Client, base_url: str, delivery: Delivery) -> int:
    return client.post(f"{base_url}{WEBHOOK_PATH}", content=delivery.body,
                       headers=delivery.headers).status_code


# What the database holds ---------------------------------------------------------------------------
def envelopes(engine: Engine) -> dict[str, list[tuple[str, int, str | None]]]:
    """delivery id → [(status, attempts, claimed_by)] of its envelopes."""
    rows: dict[str, list[tuple[str, int, str | None]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.text(
                "SELECT delivery_id, status, attempts, claimed_by FROM webhook_events")):
            rows.setdefault(row.delivery_id, []).append((row.status, row.attempts, row.claimed_by))
    return rows


def fact_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """(type, source URL) → stored rows (the natural identity; more than 1 is a duplicate)."""
    with engine.connect() as conn:
        return {(row.type, row.source_url): row.n for row in conn.execute(sa.text(
            "SELECT type, source_url, count(*) AS n FROM events GROUP BY type, source_url"))}


def open_envelopes(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'processing')"
        )).scalar_one()


@dataclass(frozen=True)
class Ledger:
    """Accepted deliveries checked against the database (lost) and the run's logs (duplicated)."""

    lost: list[str]
    duplicated: int

    @classmethod
    def check(cls, engine: Engine, accepted: list[Delivery], run_log: RunLog) -> Ledger:
        """Lost: without one completed envelope or its fact. Duplicated: envelopes completed twice
        and facts announced twice, from every process's log (rows cannot show it: unique
        constraints keep them unique whatever happened)."""
        stored = envelopes(engine)
        facts = fact_counts(engine)
        lost = [d.delivery_id for d in accepted
                if [status for status, _, _ in stored.get(d.delivery_id, [])] != ["completed"]
                or facts.get(d.fact, 0) < 1]
        records = completion_lines(run_log.records, [d.delivery_id for d in accepted])
        return cls(lost, count_double_processing(records).total)


class RunLog:
    """The JSON log records of a test's run: its backends' log files and this process's metrics.

    The test process counts too: a `tick` it runs drains envelopes like any worker.
    """

    def __init__(self) -> None:
        self.backends: list[Backend] = []
        self._stream = io.StringIO()
        self._handler = logging.StreamHandler(self._stream)
        self._handler.setFormatter(JsonFormatter())
        self._logger = logging.getLogger("gitpulse.metrics")
        self._level = self._logger.level

    def start(self) -> RunLog:
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)
        return self

    def stop(self) -> None:
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)

    def records(self) -> list[dict[str, Any]]:
        files = [path for backend in self.backends for path in backend.runs if path.exists()]
        return read_log_records(*files) + parse_log_lines(self._stream.getvalue().splitlines())

    def double_processing(self, messages: Iterable[Hashable] = ()) -> DoubleProcessing:
        return count_double_processing(self.records(), messages)


# PostgreSQL levers ---------------------------------------------------------------------------------
def _admin() -> Engine:
    return sa.create_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def terminate_connections(database: str) -> int:
    """Cut every connection to `database` (as an operator or a failover would); returns how many."""
    admin = _admin()
    try:
        with admin.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}).all())
    finally:
        admin.dispose()


@contextlib.contextmanager
def database_down(database: str) -> Iterator[None]:
    """Refuse new connections to `database` and cut the open ones, until the block ends."""
    admin = _admin()
    quoted = f'"{database}"'
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE {quoted} ALLOW_CONNECTIONS false")
        terminate_connections(database)
        yield
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE {quoted} ALLOW_CONNECTIONS true")
        admin.dispose()


@contextlib.contextmanager
def table_locked(engine: Engine, table: str) -> Iterator[None]:
    """Hold `LOCK TABLE … IN EXCLUSIVE MODE`: reads go on, every write to `table` waits.

    A worker that reaches its first write to `table` stops there, mid-transaction, holding its claim:
    a known point at which to kill it.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def lock_waiters(engine: Engine) -> int:
    """Sessions of this database waiting for a lock."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'")).scalar_one()


def database_name(engine: Engine) -> str:
    name = make_url(url_of(engine)).database
    assert name
    return name


# A mail server that never answers DATA -------------------------------------------------------------
class StallingSMTP:
    """An SMTP server that reads a whole message and then never acknowledges it.

    `transmissions` counts messages whose DATA arrived in full: each may have been delivered, so
    at-most-once means it never exceeds one per email.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.transmissions = 0
        self.messages: list[tuple[bytes | None, bytes | None]] = []  # (To, Subject) of each
        self.data_received = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._converse, args=(connection,), daemon=True).start()

    def _converse(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection, connection.makefile("rb") as reader:
            connection.sendall(b"220 stall.test ESMTP\r\n")
            while line := reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    connection.sendall(b"250-stall.test\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    connection.sendall(b"354 go ahead\r\n")
                    headers: dict[bytes, bytes] = {}
                    while (data := reader.readline()) not in (b".\r\n", b".\n", b""):
                        name, colon, value = data.partition(b":")
                        if colon and name.lower() in (b"to", b"subject"):
                            headers.setdefault(name.lower(), value.strip())
                    with self._lock:
                        self.transmissions += 1
                        self.messages.append((headers.get(b"to"), headers.get(b"subject")))
                    self.data_received.set()
                    self._release.wait(120)  # the answer never comes
                    return
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:
                    connection.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self._release.set()
        self.listener.close()
