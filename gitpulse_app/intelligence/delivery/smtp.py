"""Sending one message through the server named by `SMTP_URL`.

URL forms:
- `smtp://[user:pass@]host[:port]` — plain SMTP, default port 25;
- `smtp://…?starttls=1` — upgrade with STARTTLS before authenticating (`1`, `true`, `yes`, `on`);
- `smtps://[user:pass@]host[:port]` — TLS from the first byte (implicit TLS), default port 465.

User name and password are percent-decoded (`%40` → `@`). Credentials are used only when the URL
carries them. TLS certificates are verified against the system trust store; a private CA (a
self-signed test server, an internal relay) is trusted by naming its PEM file in the environment
variable `GITPULSE_SMTP_CA_FILE` or by passing `ca_file=` to `send_message`.

Errors are raised as `SMTPDeliveryError` with a short message that is safe to store and show: it
names the SMTP reply or the network failure, never the credentials or the recipient's address.

Delivery is at most once. Once the server has answered the message's data with 250 it owns the
message: a failing QUIT (an error reply, a hang-up, a timeout) is logged, not raised, so nothing
retries a message that already went out. When the connection fails after the message's data was
sent but before the server's reply came, nobody knows whether it was taken:
`SMTPOutcomeUnknown` says so, and the queue records "Delivery outcome unknown" without retrying.
"""

from __future__ import annotations

import email.generator
import email.utils
import io
import logging
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

CA_FILE_ENV = "GITPULSE_SMTP_CA_FILE"
DEFAULT_PORT = 25
DEFAULT_TLS_PORT = 465
TIMEOUT_S = 30.0
_TRUE = frozenset({"1", "true", "yes", "on"})

log = logging.getLogger(__name__)


class SMTPConfigError(ValueError):
    """`SMTP_URL` cannot be used (wrong scheme, no host, bad port)."""


class SMTPDeliveryError(RuntimeError):
    """The message was not accepted; `str(error)` is safe to store and display."""


class SMTPOutcomeUnknown(RuntimeError):
    """The connection failed after the message's data was sent, before the server answered it:
    it may have been delivered, so it must not be sent again on its own."""


@dataclass(frozen=True)
class SMTPTarget:
    """A parsed `SMTP_URL`."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # never show the password, even in a traceback
        secret = "***" if self.password else None
        return (
            f"SMTPTarget(host={self.host!r}, port={self.port}, implicit_tls={self.implicit_tls}, "
            f"starttls={self.starttls}, username={'***' if self.username else None}, "
            f"password={secret})"
        )


def parse_smtp_url(url: str) -> SMTPTarget:
    """Parse `SMTP_URL`.

    Raises:
        SMTPConfigError: Scheme other than smtp/smtps, no host, or a port that is not a number.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise SMTPConfigError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise SMTPConfigError("SMTP_URL has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise SMTPConfigError("SMTP_URL has an invalid port") from exc
    implicit = scheme == "smtps"
    query = parse_qs(parts.query, keep_blank_values=True)
    starttls = not implicit and any(v.strip().lower() in _TRUE for v in query.get("starttls", []))
    return SMTPTarget(
        host=parts.hostname,
        port=port or (DEFAULT_TLS_PORT if implicit else DEFAULT_PORT),
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context; `ca_file` (else `GITPULSE_SMTP_CA_FILE`) adds a trusted CA."""
    context = ssl.create_default_context()
    extra = ca_file or os.environ.get(CA_FILE_ENV) or None
    if extra:
        context.load_verify_locations(cafile=extra)
    return context


def _describe(exc: BaseException) -> str:
    """A short, address-free description of a send failure."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"Recipient refused by the mail server (SMTP {', '.join(map(str, codes))})"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"Sender refused by the mail server (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"SMTP authentication failed (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        return f"SMTP {exc.smtp_code}: {' '.join(text.split())[:200]}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"Mail server does not support a required feature: {exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "Mail server closed the connection"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "Timed out talking to the mail server"
    if isinstance(exc, ConnectionRefusedError):
        return "Connection to the mail server refused"
    if isinstance(exc, OSError):
        return f"Cannot reach the mail server: {exc.strerror or type(exc).__name__}"
    return f"Sending failed: {type(exc).__name__}"


def send_message(
    message: EmailMessage,
    smtp_url: str,
    *,
    ca_file: str | None = None,
    timeout: float = TIMEOUT_S,
) -> None:
    """Deliver `message` (its From/To headers give the envelope) to the server of `smtp_url`.

    Raises:
        SMTPConfigError: `smtp_url` is unusable.
        SMTPDeliveryError: The server refused the message, or the connection failed.
    """
    target = parse_smtp_url(smtp_url)
    sender = email.utils.parseaddr(str(message["From"]))[1]
    recipients = [addr for _, addr in email.utils.getaddresses(message.get_all("To", []))]
    try:
        if target.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=timeout, context=tls_context(ca_file)
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    except (smtplib.SMTPException, OSError) as exc:
        raise SMTPDeliveryError(_describe(exc)) from None
    try:
        _transmit(client, target, message, sender, recipients, ca_file)
    finally:
        client.close()


def _transmit(client: smtplib.SMTP, target: SMTPTarget, message: EmailMessage, sender: str,
              recipients: list[str], ca_file: str | None) -> None:
    try:
        client.ehlo()
        if target.starttls:
            client.starttls(context=tls_context(ca_file))
            client.ehlo()
        if target.username is not None:
            client.login(target.username, target.password or "")
        _envelope(client, sender, recipients)
        code, reply = client.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
    except (smtplib.SMTPException, OSError) as exc:
        raise SMTPDeliveryError(_describe(exc)) from None
    # From here the server may take the message even if we never hear its answer.
    try:
        client.send(_data_block(message))
        code, reply = client.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        raise SMTPOutcomeUnknown(f"{OUTCOME_UNKNOWN_PREFIX}: {_describe(exc)}") from None
    if code != 250:
        raise SMTPDeliveryError(_describe(smtplib.SMTPDataError(code, reply)))
    try:
        client.quit()
    except (smtplib.SMTPException, OSError) as exc:
        # Accepted already: a QUIT that fails is the server's problem, never a reason to resend.
        log.warning("SMTP QUIT failed after the message was accepted",
                    extra={"error": _describe(exc)})


OUTCOME_UNKNOWN_PREFIX = "No answer after the message was sent"


def _envelope(client: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """MAIL FROM and RCPT TO, refusing as `smtplib.SMTP.sendmail` does."""
    code, reply = client.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for recipient in recipients:
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)


def _data_block(message: EmailMessage) -> bytes:
    """The message as DATA carries it: CRLF lines, leading dots doubled, ending `.` line."""
    buffer = io.BytesIO()
    email.generator.BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(
        message, linesep="\r\n")
    lines = buffer.getvalue().split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n"
                       for line in lines)
    return stuffed + b".\r\n"
