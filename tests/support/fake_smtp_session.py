"""The SMTP conversation of the fake mail server: one `SMTPSession` per client connection.

It speaks ESMTP (RFC 5321) with STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954), follows the
scripting of its `FakeSMTPServer` (tests/support/fake_smtp.py) and records each accepted message
there as a `RecordedMessage`.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import re
import socket
import socketserver
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from tests.support.fake_server_base import HOST

if TYPE_CHECKING:
    from tests.support.fake_smtp import FakeSMTPServer


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



class SMTPSession(socketserver.BaseRequestHandler):
    """One client connection, speaking ESMTP (RFC 5321) with AUTH PLAIN/LOGIN (RFC 4954)."""

    server: SMTPTCPServer
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



class SMTPTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSMTPServer) -> None:
        self.fake = fake
        super().__init__((HOST, 0), SMTPSession)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
