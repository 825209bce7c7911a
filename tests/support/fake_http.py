"""A scripted HTTP/1.1 server on 127.0.0.1: the double for every outside HTTP service.

The app reaches it through its base-URL settings (`GITHUB_API_URL`, `OPENAI_BASE_URL`,
`VOYAGE_BASE_URL`, channel webhook URLs), so every byte it sends crosses a real socket and our own
code is never mocked. Responses, recorded requests and routes are in tests/support/fake_http_wire.py;
the service-specific fakes build on this server (tests/support/fake_github.py,
tests/support/fake_chat.py). This module is a pytest plugin (see `tests/conftest.py`): it provides
`fake_http` and `fake_http_factory`.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.fake_http_wire import (
    FakeResponse,
    Headers,
    RecordedRequest,
    ResponseSpec,
    Route,
    not_found,
)
from tests.support.fake_server_base import HOST, BackgroundServer, started_servers

__all__ = ["FakeHTTPServer", "FakeResponse", "RecordedRequest", "Route"]


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive by default
    server_version = "FakeHTTP/1.0"
    # Headers and body are written separately; without TCP_NODELAY every keep-alive exchange
    # waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _ThreadingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log is the record; stderr noise is not

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler dispatches on `do_<METHOD>`: serve every method the same way.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.fake._untrack(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ValueError):
            pass  # the client went away (e.g. it timed out during a scripted delay)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command.upper(),
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=Headers(self.headers.items()),
            body=self._read_body(),
            target=self.path,
            client=(str(self.client_address[0]), int(self.client_address[1])),
        )
        response = fake._dispatch(request)
        if response.delay and fake._stopping.wait(response.delay):
            response = FakeResponse(disconnect=True)  # stopping: do not keep the client waiting
        if response.disconnect:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = response.payload()
        bodiless = response.status in (204, 304) or 100 <= response.status < 200
        self.send_response(response.status)
        for name, value in response.header_pairs():
            if name.lower() not in ("content-length", "transfer-encoding", "date", "server"):
                self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command.upper() != "HEAD" and not bodiless:
            self.wfile.write(payload)
        self.wfile.flush()


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeHTTPServer) -> None:
        self.fake = fake
        super().__init__((HOST, 0), _HTTPHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connection-level errors are the client's business; handler errors are recorded


class FakeHTTPServer(BackgroundServer):
    """A scripted HTTP/1.1 server on 127.0.0.1 (ephemeral port), run in a background thread.

    Routes are matched newest first, so a test can override a default by adding the same route
    again. A GET route also answers HEAD (without the body). Unmatched requests get
    `404 {"message": "Not Found"}` and stay in the log with `matched=False`.

    Example:
        with FakeHTTPServer() as server:
            server.add("GET", "/items", [FakeResponse(502), FakeResponse(200, json=[1])])
            httpx.get(server.url + "/items")  # 502, then 200 forever after
    """

    def __init__(self, name: str = "fake-http") -> None:
        super().__init__()
        self.name = name
        self._routes: list[Route] = []
        self._requests: list[RecordedRequest] = []

    def _make_server(self) -> _ThreadingServer:
        return _ThreadingServer(self)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`."""
        return f"http://{HOST}:{self.port}"

    # Scripting -----------------------------------------------------------------------------------
    def add(
        self,
        method: str,
        path: str | re.Pattern[str],
        response: ResponseSpec,
        *,
        query: Mapping[str, Any] | str | None = None,
    ) -> Route:
        """Script a route.

        Args:
            method: HTTP method, or `"*"` for any.
            path: Exact path (a `?a=1` suffix becomes a query match) or a compiled regex that must
                match the whole path; its named groups land in `request.path_params`.
            response: A `FakeResponse`; a list of them (and/or responders) used in order, the last
                repeating; or a responder `(RecordedRequest) -> FakeResponse`.
            query: Parameters that must be present with exactly these values (others may be too).

        Returns:
            The route, whose `hits` lists the requests it answered.
        """
        route = Route(method, path, response, query)
        with self._lock:
            self._routes.append(route)
        return route

    def reset(self) -> None:
        """Forget every route, recorded request and handler error."""
        with self._lock:
            self._routes.clear()
            self._requests.clear()
            self.errors.clear()

    def clear_requests(self) -> None:
        """Forget the recorded requests, keep the routes."""
        with self._lock:
            self._requests.clear()

    # Inspection ----------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path starts with `path_prefix` (and, if given, of `method`)."""
        return [
            request
            for request in self.requests
            if request.path.startswith(path_prefix)
            and (method is None or request.method == method.upper())
        ]

    @property
    def unmatched(self) -> list[RecordedRequest]:
        """Requests no route answered."""
        return [request for request in self.requests if not request.matched]

    def wait_for_requests(
        self, count: int, path_prefix: str = "", timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Block until `count` requests under `path_prefix` arrived (for work done in background).

        Raises:
            TimeoutError: Fewer arrived within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [r for r in self._requests if r.path.startswith(path_prefix)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name}: {len(found)} of {count} requests to {path_prefix!r} arrived"
                    )
                self._arrived.wait(remaining)

    # Dispatch (subclasses hook in here) ----------------------------------------------------------
    def before_route(self, request: RecordedRequest) -> FakeResponse | None:
        """Answer before routing (e.g. a rate limit); None lets the routes answer."""
        return None

    def after_route(self, request: RecordedRequest, response: FakeResponse) -> FakeResponse:
        """Adjust a routed response (e.g. common headers, conditional requests)."""
        return response

    def _find_route(self, request: RecordedRequest) -> Route | None:
        methods = [request.method] + (["GET"] if request.method == "HEAD" else [])
        with self._lock:
            routes = list(reversed(self._routes))
        for method in methods:
            for route in routes:
                params = route.match(request, method)
                if params is not None:
                    request.path_params = params
                    return route
        return None

    def _dispatch(self, request: RecordedRequest) -> FakeResponse:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
        try:
            response = self.before_route(request)
            if response is None:
                route = self._find_route(request)
                request.matched = route is not None
                response = route.respond(request) if route is not None else not_found()
            return self.after_route(request, response)
        except Exception as exc:  # a bug in a responder must surface in the test, not hang it
            with self._lock:
                self.errors.append(exc)
            return FakeResponse(500, json={"message": f"fake server error: {exc!r}"})


@pytest.fixture
def fake_http_factory() -> Iterator[Callable[..., FakeHTTPServer]]:
    """Make more started `FakeHTTPServer`s (one per outside service); all stop after the test."""
    yield from started_servers(FakeHTTPServer)


@pytest.fixture
def fake_http(fake_http_factory: Callable[..., FakeHTTPServer]) -> FakeHTTPServer:
    """A started `FakeHTTPServer`, stopped after the test."""
    return fake_http_factory()
