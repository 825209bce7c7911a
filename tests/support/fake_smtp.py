"""A real SMTP server on 127.0.0.1 that records every accepted message, reached through `SMTP_URL`.

The conversation itself is in tests/support/fake_smtp_session.py. This module is a pytest plugin
(see `tests/conftest.py`): it provides `fake_smtp` and `fake_smtp_factory`.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.fake_server_base import HOST, BackgroundServer, started_servers
from tests.support.fake_smtp_session import AuthAttempt, RecordedMessage, SMTPTCPServer
from tests.support.fake_tls import self_signed_certificate

__all__ = ["AuthAttempt", "FakeSMTPServer", "RecordedMessage"]


class FakeSMTPServer(BackgroundServer):
    """A real SMTP server on 127.0.0.1 (ephemeral port) that records every accepted message.

    Args:
        username: With `password`, enables AUTH PLAIN/LOGIN with these credentials.
        password: See `username`.
        require_auth: Refuse MAIL FROM until the client authenticated.
        tls: None (plain), `"starttls"` (offers STARTTLS; AUTH only after it) or `"implicit"`
            (TLS from the first byte, like smtps://). The certificate is self-signed; see `ca_file`.
        hostname: Name used in the greeting.
    """

    name = "fake-smtp"

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
        super().__init__()
        self.username = username
        self.password = password
        self.require_auth = require_auth
        self.tls = tls
        self.hostname = hostname
        self._messages: list[RecordedMessage] = []
        self._auth_attempts: list[AuthAttempt] = []
        self._data_failures: list[tuple[int, str]] = []
        self._quit_failures: list[tuple[int, str]] = []
        self._stalled_data: list[str] = []
        self._rejected_recipients: dict[str, int] = {}
        self._refusal: tuple[int | None, str] | None = None

    def _make_server(self) -> SMTPTCPServer:
        return SMTPTCPServer(self)

    @property
    def host(self) -> str:
        return HOST

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
        return self_signed_certificate()[0]

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed_certificate())
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


@pytest.fixture
def fake_smtp_factory() -> Iterator[Callable[..., FakeSMTPServer]]:
    """Make started `FakeSMTPServer`s with any options (e.g. `tls="starttls"`)."""
    yield from started_servers(FakeSMTPServer)


@pytest.fixture
def fake_smtp(fake_smtp_factory: Callable[..., FakeSMTPServer]) -> FakeSMTPServer:
    """A started plain SMTP server with AUTH for `gitpulse` / `smtp-password` (not required)."""
    return fake_smtp_factory(username="gitpulse", password="smtp-password")
