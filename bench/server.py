"""Run the real backend under uvicorn in a thread and time requests against it."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_api(database_url: str) -> Iterator[str]:
    """`gitpulse_app.api:app` on a free port against a freshly migrated `database_url`."""
    from gitpulse_app.core import migrate
    from gitpulse_app.core.config import reload_settings
    from gitpulse_app.core.db import reset_engine

    os.environ["DATABASE_URL"] = database_url
    reload_settings()
    reset_engine()
    migrate.upgrade(database_url)
    from gitpulse_app.experience.http.app import create_api

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(with_workers=True), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


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


def percentile(samples: list[float], pct: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]
