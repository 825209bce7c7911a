"""Test doubles for the outside world: real HTTP/1.1 and SMTP servers on 127.0.0.1.

The app reaches them through its base-URL settings (`GITHUB_API_URL`, `OPENAI_BASE_URL`,
`VOYAGE_BASE_URL`, `SMTP_URL`), so every byte it sends crosses a real socket and our own code is
never mocked. Both servers run in background threads, record what they receive and can be scripted
to fail. This module is also a pytest plugin (see `tests/conftest.py`): it provides `fake_http`,
`fake_http_factory`, `fake_smtp`, `fake_smtp_factory`, and loads `fake_github` from
`tests.support.fake_github`.

Keeping the HTTP and SMTP doubles in one module is deliberate: they share the lifecycle, the
recording conventions and the fixtures, and tests import them from one place.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import datetime as dt
import email
import email.policy
import functools
import ipaddress
import json as jsonlib
import re
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Union
from urllib.parse import parse_qs, quote, urlsplit

import pytest

pytest_plugins = ["tests.support.fake_github"]

HOST = "127.0.0.1"
_NO_JSON: Any = object()


# ------------------------------------------------------------------------------------------------
# HTTP: what is scripted and what is recorded
# ------------------------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers; `headers[name]` is the first value."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = [(str(name), str(value)) for name, value in items]

    def __getitem__(self, name: str) -> str:
        wanted = name.lower()
        for key, value in self._items:
            if key.lower() == wanted:
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._items:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key.lower()

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._items})

    def get_all(self, name: str) -> list[str]:
        """Every value of header `name`, in the order received."""
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def raw_items(self) -> list[tuple[str, str]]:
        """The headers as received: original spelling, duplicates kept."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


HeaderInput = Union[Mapping[str, str], Iterable[tuple[str, str]]]


def _header_pairs(headers: HeaderInput | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.raw_items()
    if isinstance(headers, Mapping):
        return [(str(name), str(value)) for name, value in headers.items()]
    return [(str(name), str(value)) for name, value in headers]


@dataclass
class FakeResponse:
    """One scripted HTTP response.

    Attributes:
        status: HTTP status code.
        json: A JSON-serializable body (sets `Content-Type: application/json`); `None` sends `null`.
        body: Raw body (bytes or text) when `json` is not given.
        headers: Extra response headers (a mapping, or pairs to repeat a header).
        delay: Seconds to wait before answering (client timeout tests).
        disconnect: Close the connection without any response (network failure tests).
    """

    status: int = 200
    _: KW_ONLY
    json: Any = _NO_JSON
    body: bytes | str = b""
    headers: HeaderInput = field(default_factory=dict)
    delay: float = 0.0
    disconnect: bool = False

    @property
    def has_json(self) -> bool:
        return self.json is not _NO_JSON

    def payload(self) -> bytes:
        """The body bytes exactly as they go on the wire."""
        if self.has_json:
            return jsonlib.dumps(self.json).encode("utf-8")
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return bytes(self.body)

    def header_pairs(self) -> list[tuple[str, str]]:
        """Response headers, with a JSON content type added when the body is JSON."""
        pairs = _header_pairs(self.headers)
        if self.has_json and not any(name.lower() == "content-type" for name, _ in pairs):
            pairs.append(("Content-Type", "application/json; charset=utf-8"))
        return pairs

    def header(self, name: str) -> str | None:
        """The first value of response header `name`, case-insensitively."""
        return Headers(self.header_pairs()).get(name)


Responder = Callable[["RecordedRequest"], FakeResponse]
ResponseSpec = Union[FakeResponse, Responder, "list[FakeResponse | Responder]"]


@dataclass
class RecordedRequest:
    """One request the fake received, as it arrived on the socket.

    Attributes:
        method: Upper-case method.
        path: Path without query string, as sent (not percent-decoded).
        query: Query parameters, each a list of values (`parse_qs`, blanks kept).
        headers: Case-insensitive request headers.
        body: The request body (chunked uploads are decoded).
        target: The raw request target (`path?query`).
        matched: False when no route answered (the fake replied 404).
        path_params: Named groups of the matching regex route.
        client: The client's (host, port); one port for several requests means keep-alive.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    target: str
    matched: bool = False
    path_params: dict[str, str] = field(default_factory=dict)
    client: tuple[str, int] = ("", 0)
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        """The body parsed as JSON (`None` for an empty body)."""
        return jsonlib.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default


def _parse_query_spec(query: Mapping[str, Any] | str | None) -> dict[str, list[str]] | None:
    if query is None:
        return None
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    spec: dict[str, list[str]] = {}
    for key, value in query.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        spec[key] = [str(item) for item in values]
    return spec


class Route:
    """A scripted route: which requests it answers and with what, plus the requests it answered."""

    def __init__(
        self,
        method: str,
        path: str | re.Pattern[str],
        response: ResponseSpec,
        query: Mapping[str, Any] | str | None = None,
    ) -> None:
        if isinstance(path, str) and "?" in path:
            path, _, inline_query = path.partition("?")
            query = {**parse_qs(inline_query, keep_blank_values=True), **(_parse_query_spec(query) or {})}
        self.method = method.upper()
        self.path = path
        self.query = _parse_query_spec(query)
        if isinstance(response, list):
            if not response:
                raise ValueError("a response list needs at least one response")
            self._script: list[FakeResponse | Responder] = list(response)
        else:
            self._script = [response]
        self._next = 0
        self._lock = threading.Lock()
        self.hits: list[RecordedRequest] = []

    @property
    def calls(self) -> int:
        return len(self.hits)

    def match(self, request: RecordedRequest, method: str) -> dict[str, str] | None:
        """Path parameters when this route answers `request` under `method`, else None."""
        if self.method not in ("*", method):
            return None
        if isinstance(self.path, re.Pattern):
            found = self.path.fullmatch(request.path)
            if found is None:
                return None
            params = {key: value for key, value in found.groupdict().items() if value is not None}
        elif self.path != request.path:
            return None
        else:
            params = {}
        if self.query is not None:
            for key, values in self.query.items():
                if request.query.get(key) != values:
                    return None
        return params

    def respond(self, request: RecordedRequest) -> FakeResponse:
        """The next response of the script (the last one repeats)."""
        with self._lock:
            self.hits.append(request)
            step = self._script[min(self._next, len(self._script) - 1)]
            self._next += 1
        response = step(request) if callable(step) else step
        if not isinstance(response, FakeResponse):
            raise TypeError(f"a responder must return a FakeResponse, not {type(response).__name__}")
        return response


def not_found() -> FakeResponse:
    return FakeResponse(404, json={"message": "Not Found"})


# ------------------------------------------------------------------------------------------------
# HTTP: the server
# ------------------------------------------------------------------------------------------------


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


class FakeHTTPServer:
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
        self.name = name
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._routes: list[Route] = []
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    # Lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeHTTPServer:
        """Bind an ephemeral port and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _ThreadingServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{self.name}:{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and release the port."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._server.server_address[1]

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

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


# ------------------------------------------------------------------------------------------------
# SMTP
# ------------------------------------------------------------------------------------------------


@dataclass
class RecordedMessage:
    """One message the fake SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    auth_user: str | None
    tls: bool

    @property
    def subject(self) -> str | None:
        return self.message["Subject"]

    def body(self, subtype: str = "plain") -> str | None:
        """The decoded `text/<subtype>` part (`plain` or `html`), or None."""
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else None

    @property
    def text(self) -> str | None:
        return self.body("plain")

    @property
    def html(self) -> str | None:
        return self.body("html")


@dataclass
class AuthAttempt:
    mechanism: str
    username: str
    succeeded: bool


@functools.cache
def _test_certificate() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost: (cert path, key path), made once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "GitPulse test double")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    directory = Path(tempfile.mkdtemp(prefix="gitpulse-fake-tls-"))
    atexit.register(shutil.rmtree, directory, True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class _SMTPSession(socketserver.BaseRequestHandler):
    """One client connection, speaking ESMTP (RFC 5321) with AUTH PLAIN/LOGIN (RFC 4954)."""

    server: _SMTPTCPServer
    _MAX_LINE = 1 << 20

    def handle(self) -> None:
        fake = self.server.fake
        self.sock: socket.socket = self.request
        fake._track(self.sock)
        try:
            self._converse(fake)
        except (OSError, EOFError):
            pass  # the client hung up
        except Exception as exc:
            with fake._lock:
                fake.errors.append(exc)
        finally:
            fake._untrack(self.sock)
            try:
                self.sock.close()
            except OSError:
                pass

    # Wire helpers --------------------------------------------------------------------------------
    def _reply(self, code: int, *lines: str) -> None:
        lines = lines or ("",)
        text = "".join(
            f"{code}{'-' if index < len(lines) - 1 else ' '}{line}\r\n"
            for index, line in enumerate(lines)
        )
        self.sock.sendall(text.encode("utf-8"))

    def _read_line(self) -> bytes:
        line = self.reader.readline(self._MAX_LINE)
        if not line:
            raise EOFError
        return line

    def _challenge(self, prompt: str) -> str:
        self._reply(334, base64.b64encode(prompt.encode()).decode() if prompt else "")
        return self._read_line().decode("ascii", errors="replace").strip()

    def _start_tls(self) -> None:
        fake = self.server.fake
        fake._untrack(self.sock)
        self.sock = fake._tls_context().wrap_socket(self.sock, server_side=True)
        fake._track(self.sock)
        self.reader = self.sock.makefile("rb")
        self.tls = True

    def _reset_transaction(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_tos: list[str] = []

    # Conversation --------------------------------------------------------------------------------
    def _converse(self, fake: FakeSMTPServer) -> None:
        self.tls = False
        self.greeted = False
        self.auth_user: str | None = None
        self._reset_transaction()
        refusal = fake._refusal
        if refusal is not None:
            code, message = refusal
            if code is not None:
                self.sock.sendall(f"{code} {message}\r\n".encode())
            return
        if fake.tls == "implicit":
            self._start_tls()
        else:
            self.reader = self.sock.makefile("rb")
        self._reply(220, f"{fake.hostname} ESMTP GitPulse test double ready")
        while True:
            line = self._read_line().decode("utf-8", errors="replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            command = getattr(self, f"_smtp_{verb.lower()}", None) if verb.isalpha() else None
            if command is None:
                self._reply(500, "5.5.2 Command not recognized")
            elif command(fake, argument.strip()) is False:
                return

    def _smtp_ehlo(self, fake: FakeSMTPServer, argument: str) -> None:
        self.greeted = True
        self._reset_transaction()
        lines = [f"{fake.hostname} greets {argument or 'you'}", "8BITMIME", "SMTPUTF8", "SIZE 26214400"]
        if fake.tls == "starttls" and not self.tls:
            lines.append("STARTTLS")
        elif fake.username is not None:
            lines.append("AUTH PLAIN LOGIN")
        self._reply(250, *lines)

    def _smtp_helo(self, fake: FakeSMTPServer, argument: str) -> None:
        self.greeted = True
        self._reset_transaction()
        self._reply(250, fake.hostname)

    def _smtp_starttls(self, fake: FakeSMTPServer, argument: str) -> None:
        if fake.tls != "starttls":
            self._reply(502, "5.5.1 STARTTLS not offered")
        elif self.tls:
            self._reply(503, "5.5.1 TLS already active")
        else:
            self._reply(220, "2.0.0 Ready to start TLS")
            self._start_tls()
            # RFC 3207: the client forgets everything it learnt and greets again.
            self.greeted = False
            self.auth_user = None
            self._reset_transaction()

    def _smtp_auth(self, fake: FakeSMTPServer, argument: str) -> None:
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        if fake.username is None or (fake.tls == "starttls" and not self.tls):
            self._reply(502, "5.5.1 AUTH not available")
            return
        if self.auth_user is not None:
            self._reply(503, "5.5.1 Already authenticated")
            return
        try:
            if mechanism == "PLAIN":
                response = initial or self._challenge("")
                if response == "*":
                    self._reply(501, "5.0.0 Authentication cancelled")
                    return
                _authzid, username, password = (
                    base64.b64decode(response, validate=True).decode("utf-8").split("\0")
                )
            elif mechanism == "LOGIN":
                user_b64 = initial or self._challenge("Username:")
                password_b64 = self._challenge("Password:")
                if "*" in (user_b64, password_b64):
                    self._reply(501, "5.0.0 Authentication cancelled")
                    return
                username = base64.b64decode(user_b64, validate=True).decode("utf-8")
                password = base64.b64decode(password_b64, validate=True).decode("utf-8")
            else:
                self._reply(504, "5.5.4 Unrecognized authentication type")
                return
        except (binascii.Error, UnicodeDecodeError, ValueError):
            self._reply(501, "5.5.2 Cannot decode the authentication response")
            return
        succeeded = username == fake.username and password == fake.password
        with fake._lock:
            fake._auth_attempts.append(AuthAttempt(mechanism, username, succeeded))
        if succeeded:
            self.auth_user = username
            self._reply(235, "2.7.0 Authentication successful")
        else:
            self._reply(535, "5.7.8 Authentication credentials invalid")

    def _smtp_mail(self, fake: FakeSMTPServer, argument: str) -> None:
        found = re.match(r"(?i)FROM:\s*<([^>]*)>", argument)
        if not self.greeted:
            self._reply(503, "5.5.1 Send HELO/EHLO first")
        elif fake.require_auth and self.auth_user is None:
            self._reply(530, "5.7.0 Authentication required")
        elif self.mail_from is not None:
            self._reply(503, "5.5.1 Nested MAIL command")
        elif found is None:
            self._reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
        else:
            self.mail_from = found.group(1)
            self._reply(250, "2.1.0 Ok")

    def _smtp_rcpt(self, fake: FakeSMTPServer, argument: str) -> None:
        found = re.match(r"(?i)TO:\s*<([^>]+)>", argument)
        if self.mail_from is None:
            self._reply(503, "5.5.1 Need MAIL before RCPT")
        elif found is None:
            self._reply(501, "5.5.4 Syntax: RCPT TO:<address>")
        else:
            address = found.group(1)
            rejection = fake._rejected_recipients.get(address.lower())
            if rejection is not None:
                self._reply(rejection, "5.1.1 Recipient address rejected")
            else:
                self.rcpt_tos.append(address)
                self._reply(250, "2.1.5 Ok")

    def _smtp_data(self, fake: FakeSMTPServer, argument: str) -> None:
        if not self.rcpt_tos:
            self._reply(503, "5.5.1 Need RCPT before DATA")
            return
        self._reply(354, "End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            line = self._read_line()
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
        data = b"".join(lines)
        failure = fake._take_data_failure()
        if failure is not None:
            self._reply(*failure)
        else:
            # `data` keeps the wire's CRLFs; the parsed message has Python's \n line ends.
            parsed = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            recorded = RecordedMessage(
                mail_from=self.mail_from or "",
                rcpt_tos=list(self.rcpt_tos),
                data=data,
                message=parsed,
                auth_user=self.auth_user,
                tls=self.tls,
            )
            with fake._arrived:
                fake._messages.append(recorded)
                fake._arrived.notify_all()
            stall = fake._take(fake._stalled_data)
            if stall is not None:
                # Taken, but the 250 never comes: hang up at once, or wait until the client
                # gives up and hangs up.
                while stall == "wait" and self.sock.recv(1024):
                    pass
                raise EOFError
            self._reply(250, f"2.0.0 Ok: queued as {len(fake.messages)}")
        self._reset_transaction()

    def _smtp_rset(self, fake: FakeSMTPServer, argument: str) -> None:
        self._reset_transaction()
        self._reply(250, "2.0.0 Ok")

    def _smtp_noop(self, fake: FakeSMTPServer, argument: str) -> None:
        self._reply(250, "2.0.0 Ok")

    def _smtp_vrfy(self, fake: FakeSMTPServer, argument: str) -> None:
        self._reply(252, "2.0.0 Cannot VRFY user")

    def _smtp_quit(self, fake: FakeSMTPServer, argument: str) -> bool:
        failure = fake._take(fake._quit_failures)
        if failure is None:
            self._reply(221, "2.0.0 Bye")
        elif failure[0]:  # else: hang up without a word
            self._reply(*failure)
        return False


class _SMTPTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSMTPServer) -> None:
        self.fake = fake
        super().__init__((HOST, 0), _SMTPSession)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeSMTPServer:
    """A real SMTP server on 127.0.0.1 (ephemeral port) that records every accepted message.

    Args:
        username: With `password`, enables AUTH PLAIN/LOGIN with these credentials.
        password: See `username`.
        require_auth: Refuse MAIL FROM until the client authenticated.
        tls: None (plain), `"starttls"` (offers STARTTLS; AUTH only after it) or `"implicit"`
            (TLS from the first byte, like smtps://). The certificate is self-signed; see `ca_file`.
        hostname: Name used in the greeting.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        require_auth: bool = False,
        tls: str | None = None,
        hostname: str = "smtp.gitpulse.test",
    ) -> None:
        if tls not in (None, "starttls", "implicit"):
            raise ValueError("tls must be None, 'starttls' or 'implicit'")
        self.username = username
        self.password = password
        self.require_auth = require_auth
        self.tls = tls
        self.hostname = hostname
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._messages: list[RecordedMessage] = []
        self._auth_attempts: list[AuthAttempt] = []
        self._data_failures: list[tuple[int, str]] = []
        self._quit_failures: list[tuple[int, str]] = []
        self._stalled_data: list[str] = []
        self._rejected_recipients: dict[str, int] = {}
        self._refusal: tuple[int | None, str] | None = None
        self._connections: set[socket.socket] = set()
        self._server: _SMTPTCPServer | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    # Lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeSMTPServer:
        if self._server is None:
            self._server = _SMTPTCPServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                name=f"fake-smtp:{self.port}",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake SMTP server is not running")
        return self._server.server_address[1]

    def smtp_url(self, *, with_auth: bool = True) -> str:
        """A `SMTP_URL` for this server, credentials included when configured."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        userinfo = ""
        if with_auth and self.username is not None:
            userinfo = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}@"
        suffix = "?starttls=1" if self.tls == "starttls" else ""
        return f"{scheme}://{userinfo}{HOST}:{self.port}{suffix}"

    @property
    def url(self) -> str:
        return self.smtp_url()

    @property
    def ca_file(self) -> str:
        """PEM file of the self-signed certificate, for clients that verify it."""
        return _test_certificate()[0]

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_test_certificate())
        return context

    # Scripting -----------------------------------------------------------------------------------
    def fail_next_data(
        self, count: int = 1, code: int = 451, message: str = "4.3.0 Temporary failure, try again later"
    ) -> None:
        """Answer the next `count` messages (after their DATA is sent) with `code` instead of 250."""
        with self._lock:
            self._data_failures.extend([(code, message)] * count)

    def _take_data_failure(self) -> tuple[int, str] | None:
        return self._take(self._data_failures)

    def _take(self, script: list) -> Any:
        with self._lock:
            return script.pop(0) if script else None

    def fail_next_quit(self, code: int = 421, message: str = "4.4.2 Closing connection") -> None:
        """Answer the next QUIT with `code` (0: hang up without a word) instead of 221."""
        with self._lock:
            self._quit_failures.append((code, message))

    def stall_next_data(self, *, hang_up: bool = False) -> None:
        """Record the next message but never answer its data: the client's wait times out, or
        (`hang_up`) the connection closes right after the data arrived."""
        with self._lock:
            self._stalled_data.append("hang up" if hang_up else "wait")

    def reject_recipient(self, address: str, code: int = 550) -> None:
        """Answer RCPT TO for `address` with `code`."""
        with self._lock:
            self._rejected_recipients[address.lower()] = code

    def refuse_connections(
        self, code: int | None = 554, message: str = "5.3.2 Service not available"
    ) -> None:
        """Greet new connections with `code` and hang up, or (code None) hang up without a word.

        For a refused TCP connection, stop the server instead.
        """
        with self._lock:
            self._refusal = (code, message)

    def accept_connections(self) -> None:
        """Undo `refuse_connections`."""
        with self._lock:
            self._refusal = None

    def reset(self) -> None:
        """Forget messages, auth attempts, scripted failures, rejections and refusals."""
        with self._lock:
            self._messages.clear()
            self._auth_attempts.clear()
            self._data_failures.clear()
            self._quit_failures.clear()
            self._stalled_data.clear()
            self._rejected_recipients.clear()
            self._refusal = None
            self.errors.clear()

    # Inspection ----------------------------------------------------------------------------------
    @property
    def messages(self) -> list[RecordedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        with self._lock:
            return list(self._auth_attempts)

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> list[RecordedMessage]:
        """Block until `count` messages were accepted.

        Raises:
            TimeoutError: Fewer arrived within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._messages)} of {count} messages arrived")
                self._arrived.wait(remaining)
            return list(self._messages)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


def stop_and_check(servers: list[Any]) -> None:
    """Stop every server; fail the test if a responder or session raised inside one of them."""
    errors: list[str] = []
    for server in servers:
        server.stop()
        errors.extend(f"{type(server).__name__}: {error!r}" for error in server.errors)
    if errors:
        pytest.fail("errors inside the fake servers:\n" + "\n".join(errors))


@pytest.fixture
def fake_http_factory() -> Iterator[Callable[..., FakeHTTPServer]]:
    """Make more started `FakeHTTPServer`s (one per outside service); all stop after the test."""
    servers: list[FakeHTTPServer] = []

    def make(name: str = "fake-http") -> FakeHTTPServer:
        server = FakeHTTPServer(name).start()
        servers.append(server)
        return server

    yield make
    stop_and_check(servers)


@pytest.fixture
def fake_http(fake_http_factory: Callable[..., FakeHTTPServer]) -> FakeHTTPServer:
    """A started `FakeHTTPServer`, stopped after the test."""
    return fake_http_factory()


@pytest.fixture
def fake_smtp_factory() -> Iterator[Callable[..., FakeSMTPServer]]:
    """Make started `FakeSMTPServer`s with any options (e.g. `tls="starttls"`)."""
    servers: list[FakeSMTPServer] = []

    def make(**options: Any) -> FakeSMTPServer:
        server = FakeSMTPServer(**options).start()
        servers.append(server)
        return server

    yield make
    stop_and_check(servers)


@pytest.fixture
def fake_smtp(fake_smtp_factory: Callable[..., FakeSMTPServer]) -> FakeSMTPServer:
    """A started plain SMTP server with AUTH for `gitpulse` / `smtp-password` (not required)."""
    return fake_smtp_factory(username="gitpulse", password="smtp-password")
