"""The production shape: Reflex's prod backend with two workers on PostgreSQL and Redis.

`reflex run --env prod` (what `make prod` runs) builds the frontend once, then serves it and the
backend on one port from Granian workers (`GRANIAN_WORKERS`) forked from a supervisor that imported
the app. This starts that backend exactly as `reflex run --env prod` does after its build
(`reflex.utils.exec.run_backend_prod`), without the frontend, and checks that one signed-in cookie
resolves the same user on either worker, that Reflex keeps its state in Redis, and that exactly
one worker leads the scheduler.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from gitpulse_app.core.db import session_scope
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE
from tests.faults.harness import SECRET_KEY, free_port, reflex_prod_backend, url_of, wait_for
from tests.intelligence.delivery.conftest import make_owner, make_report

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

REDIS_URL = os.environ.get("GITPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WORKERS = 2


def workers_of(pid: int) -> list[int]:
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def serving_worker(server_port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker holding the server side of our connection (from /proc/net/tcp and its fds)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (state == "01" and int(local.split(":")[1], 16) == server_port
                and int(remote.split(":")[1], 16) == client_port):
            inode = fields[9]
    if inode is None:
        return None
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


@pytest.fixture
def prod_backend(pg_engine, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen, Path]]:
    """Reflex's prod backend, GRANIAN_WORKERS=2, on the test database and Redis; yields its port,
    the supervisor and its log."""
    port = free_port()
    env = {"DATABASE_URL": url_of(pg_engine), "REDIS_URL": REDIS_URL,
           "GITPULSE_SECRET_KEY": SECRET_KEY, "GRANIAN_WORKERS": str(WORKERS),
           "GITPULSE_BASE_URL": f"http://localhost:{port}",
           "GITPULSE_API_URL": f"http://localhost:{port}"}
    with reflex_prod_backend(tmp_path, port, env,
                             ready=lambda p: len(workers_of(p.pid)) == WORKERS) as (process, log):
        yield port, process, log


def test_two_prod_workers_serve_the_same_signed_in_session_with_state_in_redis(
    pg_engine, prod_backend, record_counts
):
    port, supervisor, log_path = prod_backend
    workers = workers_of(supervisor.pid)
    with Session(pg_engine, expire_on_commit=False) as session:
        owner = make_owner(session, login="prodcheck")
        report = make_report(session, owner)
    with session_scope() as session:
        token = start_session(session, owner.id, "prod-check")
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}

    served: dict[int, list[tuple[int, int, bytes]]] = defaultdict(list)
    for _ in range(80):  # fresh connections until both workers answered a few
        if len(served) == WORKERS and min(map(len, served.values())) >= 3:
            break
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", f"/api/reports/{report.id}.md", headers=cookie)
            answer = connection.getresponse()
            body = answer.read()
            pid = serving_worker(port, connection.sock.getsockname()[1], workers)
            forged = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            forged.request("GET", f"/api/reports/{report.id}.md",
                           headers={"Cookie": f"{SESSION_COOKIE}=forged"})
            refused = forged.getresponse()
            refused.read()
            forged.close()
        finally:
            connection.close()
        if pid is not None:
            served[pid].append((answer.status, refused.status, body))

    assert set(served) == set(workers), f"answers came from {sorted(served)}, workers {workers}"
    answers = [entry for entries in served.values() for entry in entries]
    assert {(status, refused) for status, refused, _ in answers} == {(200, 401)}
    assert len({body for _, _, body in answers}) == 1  # one user's report, whoever answered
    assert httpx.get(f"http://127.0.0.1:{port}/_health").json() == {"status": True,
                                                                    "redis": True}

    def scheduler_starts() -> list[bool]:
        starts = []
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"Scheduler started"' in line:
                starts.append(json.loads(line)["leading"])
        return starts

    wait_for(lambda: len(scheduler_starts()) == WORKERS, 20, "a worker's scheduler never started")
    assert sorted(scheduler_starts()) == [False, True]  # one leader (the advisory lock)
    record_counts(workers=WORKERS, requests_per_worker=[len(e) for e in served.values()],
                  same_user_on_every_worker=True, leaders=1)
