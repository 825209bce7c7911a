"""Run the real backend under uvicorn in a thread and time requests against it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_api(database_url: str, extra_env: dict[str, str] | None = None,
              log_path: Path | None = None) -> Iterator[str]:
    """`uvicorn gitpulse_app.api:app` in its own process, against a freshly migrated database.

    The server runs in a separate process so the load generator never competes with it for the GIL.
    Its output (JSON log lines) goes to `log_path` when given, else to a file removed afterwards.
    """
    from gitpulse_app.core import migrate

    migrate.upgrade(database_url)
    port = free_port()
    # Unbuffered: the log is read (double-processing counts) while the server runs.
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    env.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    root = Path(__file__).resolve().parents[1]
    # Output goes to a file, never an unread pipe: a server blocked writing to a full pipe would
    # also never act on SIGTERM.
    with tempfile.TemporaryDirectory(prefix="gitpulse-serve-") as logs:
        log_path = log_path or Path(logs) / "uvicorn.log"
        with log_path.open("ab") as log:  # the server keeps its own copy of the descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "gitpulse_app.api:app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(process, f"{url}/api/health", log_path)
            yield url
        finally:
            stop_server(process, 15)


def stop_server(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM (uvicorn's graceful stop), then SIGKILL after `timeout_s`."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(process: subprocess.Popen, health_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"API server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def timed_gets(url: str, count: int) -> list[float]:
    """Latencies in ms of `count` sequential GETs over one keep-alive connection."""
    samples = []
    with httpx.Client() as client:
        client.get(url)
        for _ in range(count):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return samples
