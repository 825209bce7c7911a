"""One POST to a channel endpoint, through the address guard, with no redirects followed.

`post` never raises for what the endpoint or the network did: it returns an `Answer` that the
queue classifies (docs/CHANNELS.md "Retries"). Answer bodies are cut to 300 characters; the URL
is never part of an answer or a log line.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import ssl
from dataclasses import dataclass

import certifi
import httpcore

from gitpulse_app.intelligence.delivery.channels.guard import ChannelURLError, GuardedBackend

TIMEOUT_S = 15.0
BODY_LIMIT = 300


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered.

    Attributes:
        status: The HTTP status, None when no answer came.
        body: The start of the response body.
        retry_after: Seconds asked to wait (429), from `retry_after` in a JSON body or the
            `Retry-After` header.
        error: The network failure or refusal, when there was no answer.
        refused: The guard refused the address (nothing was sent).
    """

    status: int | None
    body: str = ""
    retry_after: float | None = None
    error: str | None = None
    refused: bool = False


def _retry_after(headers: dict[str, str], body: str, now: dt.datetime) -> float | None:
    try:
        parsed = json.loads(body) if body.lstrip().startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("retry_after"), (int, float)):
        return max(0.0, float(parsed["retry_after"]))
    header = headers.get("retry-after", "").strip()
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool,
         now: dt.datetime, timeout: float = TIMEOUT_S) -> Answer:
    """POST `body` to `url` once.

    Args:
        url: The channel URL (already checked when saved; the guard checks each connection).
        body: The exact bytes to send (a webhook's signature covers them).
        headers: Request headers.
        allow_private: `GITPULSE_CHANNELS_ALLOW_PRIVATE`.
        now: The clock reading for an HTTP-date `Retry-After`.
        timeout: Connect, read and write timeout in seconds.
    """
    context = ssl.create_default_context(cafile=certifi.where())
    extensions = {"timeout": {"connect": timeout, "read": timeout, "write": timeout,
                              "pool": timeout}}
    with httpcore.ConnectionPool(ssl_context=context, max_connections=1, retries=0,
                                 network_backend=GuardedBackend(allow_private=allow_private)
                                 ) as pool:
        try:
            response = pool.request("POST", url, headers=headers, content=body,
                                    extensions=extensions)
        except ChannelURLError as exc:
            return Answer(None, error=str(exc), refused=True)
        except httpcore.TimeoutException:
            return Answer(None, error="The endpoint did not answer in time")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
                OSError) as exc:
            return Answer(None, error=f"Could not reach the endpoint ({type(exc).__name__})")
    text = response.content[:4096].decode("utf-8", errors="replace")
    names = {key.decode("latin-1").lower(): value.decode("latin-1")
             for key, value in response.headers}
    retry = _retry_after(names, text, now) if response.status == 429 else None
    return Answer(response.status, " ".join(text.split())[:BODY_LIMIT], retry)
