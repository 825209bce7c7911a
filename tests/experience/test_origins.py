"""Only GitPulse's own origins may read the backend or open its websocket (docs/SECURITY.md).

The real Reflex backend (as `reflex run --env prod` starts it after its build) answers on a free
port with `GITPULSE_BASE_URL` = `GITPULSE_API_URL` = http://localhost:PORT. A page on another
origin (`http://evil.localhost:9999`) gets no `Access-Control-Allow-Origin`, neither on a preflight
nor on a credentialed GET, and its Socket.IO websocket handshake is refused; the legitimate origin
gets both. The standalone `gitpulse_app.api:app` answers CORS the same way.
"""

from __future__ import annotations

import base64
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE, report_markdown_url
from tests.faults.harness import free_port, reflex_prod_backend
from tests.intelligence.delivery.conftest import make_owner, make_report

pytestmark = pytest.mark.slow

EVIL = "http://evil.localhost:9999"


@dataclass
class Backend:
    port: int
    origin: str
    cookie: str
    report_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Reflex's prod backend (one worker) on a migrated SQLite file holding one signed-in user."""
    workdir = tmp_path_factory.mktemp("origins")
    database_url = f"sqlite:///{workdir / 'gitpulse.db'}"
    migrate.upgrade(database_url)
    engine = create_db_engine(database_url)
    set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            owner = make_owner(session, login="origin-owner")
            report = make_report(session, owner)
            token = start_session(session, owner.id, "origins-test")
            session.commit()
    finally:
        set_engine(None)
        engine.dispose()

    port = free_port()
    origin = f"http://localhost:{port}"
    env = {"DATABASE_URL": database_url, "GITPULSE_SECRET_KEY": "origins-secret",
           "GITPULSE_BASE_URL": origin, "GITPULSE_API_URL": origin}
    with reflex_prod_backend(workdir, port, env):
        yield Backend(port, origin, f"{SESSION_COOKIE}={token}", report.id)


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(url, headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "content-type"})


def websocket_handshake(port: int, origin: str) -> int:
    """The HTTP status of a Socket.IO websocket upgrade to `/_event/` sent with `origin`."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    request = (f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\n"
               f"Host: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: {origin}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = conn.recv(1024)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def test_a_foreign_preflight_gets_no_allow_origin(backend):
    url = backend.url + report_markdown_url(backend.report_id)
    foreign = preflight(url, EVIL)
    assert "access-control-allow-origin" not in foreign.headers
    own = preflight(url, backend.origin)
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == backend.origin


@pytest.mark.parametrize("path", ["report", "/api/export/timeline.csv"])
def test_a_foreign_credentialed_get_gets_no_allow_origin(backend, path):
    url = backend.url + (report_markdown_url(backend.report_id) if path == "report" else path)
    foreign = httpx.get(url, headers={"Origin": EVIL, "Cookie": backend.cookie})
    assert foreign.status_code == 200  # served, but no browser lets the other page read it
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx.get(url, headers={"Origin": backend.origin, "Cookie": backend.cookie})
    assert own.headers["access-control-allow-origin"] == backend.origin
    assert own.headers["access-control-allow-credentials"] == "true"


def test_a_foreign_websocket_handshake_is_refused(backend):
    assert websocket_handshake(backend.port, EVIL) != 101
    assert websocket_handshake(backend.port, "http://localhost:1") != 101  # another port
    assert websocket_handshake(backend.port, backend.origin) == 101


def test_the_standalone_api_answers_only_its_origins(engine, configure):
    configure(GITPULSE_BASE_URL="https://pulse.example.com",
              GITPULSE_API_URL="https://api.pulse.example.com:8443/")
    from gitpulse_app.experience.http.app import create_api

    with TestClient(create_api(with_workers=False)) as mounted:  # Reflex adds CORS around it
        assert "access-control-allow-origin" not in preflight_via(mounted, EVIL).headers
    client = TestClient(create_api(with_workers=True))  # no `with`: its workers stay off
    assert "access-control-allow-origin" not in preflight_via(client, EVIL).headers
    for origin in ("https://pulse.example.com", "https://api.pulse.example.com:8443"):
        assert preflight_via(client, origin).headers["access-control-allow-origin"] == origin
    answer = client.get("/api/health", headers={"Origin": EVIL})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def preflight_via(client: TestClient, origin: str) -> httpx.Response:
    return client.options("/api/health", headers={"Origin": origin,
                                                  "Access-Control-Request-Method": "GET"})


def test_allowed_origins_are_what_a_browser_sends(configure):
    settings = configure(GITPULSE_BASE_URL="HTTPS://Pulse.Example.com:443/app/",
                         GITPULSE_API_URL="http://[::1]:8000")
    assert settings.allowed_origins == ("https://pulse.example.com", "http://[::1]:8000")
    settings = configure(GITPULSE_BASE_URL="http://localhost:3000",
                         GITPULSE_API_URL="http://localhost:3000")
    assert settings.allowed_origins == ("http://localhost:3000",)
