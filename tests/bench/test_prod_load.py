"""The `make prod` load benchmark's bookkeeping: its Redis database, environment and shutdown."""

import os
import subprocess
import time

import pytest

from bench.prod_load import free_redis_db, prod_environment, stop_group


def test_the_highest_empty_redis_database_is_taken_and_database_0_never():
    assert free_redis_db({}) == 15
    assert free_redis_db({15: 3, 14: 0, 0: 9}) == 14
    with pytest.raises(RuntimeError, match="no empty Redis database"):
        free_redis_db({index: 1 for index in range(1, 16)})


def test_the_prod_environment_replaces_inherited_app_settings(monkeypatch):
    monkeypatch.setenv("GITPULSE_DIGEST_HOUR", "7")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    env = prod_environment("postgresql+psycopg://postgres@127.0.0.1/x", "redis://h/3", 8123)
    assert "GITPULSE_DIGEST_HOUR" not in env
    assert env["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1/x"
    assert env["REDIS_URL"] == "redis://h/3" and env["PORT"] == "8123" and env["WORKERS"] == "2"
    assert env["GITPULSE_BASE_URL"] == env["GITPULSE_API_URL"] == "http://127.0.0.1:8123"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stopping_kills_the_whole_group_even_a_child_that_ignores_sigterm(tmp_path):
    child_pid = tmp_path / "child.pid"
    process = subprocess.Popen(
        ["sh", "-c", f'sh -c \'trap "" TERM; echo $$ > {child_pid}; while :; do sleep 1; done\' '
                     "& wait"],
        start_new_session=True)
    deadline = time.monotonic() + 10
    while not (child_pid.exists() and child_pid.read_text().strip()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    stop_group(process, timeout_s=0.5)
    assert process.returncode is not None
    deadline = time.monotonic() + 10
    while _alive(pid):  # reaped by init once killed
        assert time.monotonic() < deadline, "the child survived the group stop"
        time.sleep(0.05)
