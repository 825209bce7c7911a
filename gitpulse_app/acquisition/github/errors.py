"""What can go wrong when GitPulse talks to GitHub.

Every failure of a call is a `GitHubError`, so a job can catch that one name; the subclasses say
what the job should do about it (`RateLimited` → blocked until `reset`, `AuthError` → ask for a new
token, the rest → failed). `NotModified` is not an error but the answer to a conditional GET, so it
deliberately is *not* a `GitHubError`: a broad `except GitHubError` never swallows it.
"""

from __future__ import annotations

import datetime as dt
import json
from http import HTTPStatus

import httpx

MINT_BODY_CHARS = 200
ERROR_BODY_CHARS = 2000


def reason_phrase(status: int | None) -> str:
    """The standard reason phrase of an HTTP status ("Not Found"), or "unknown error"."""
    try:
        return HTTPStatus(status).phrase if status is not None else "unknown error"
    except ValueError:
        return "unknown error"


class GitHubError(Exception):
    """A call to GitHub failed.

    Attributes:
        status: The HTTP status, or None when no response arrived (network error, refused URL).
        message: GitHub's `message` field, if any.
        body: The response body as text (truncated), for diagnostics.
    """

    def __init__(
        self,
        status: int | None,
        message: str | None = None,
        *,
        body: str = "",
        text: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        super().__init__(text or f"GitHub API error ({status}): {message or reason_phrase(status)}")


def error_from_response(raw: httpx.Response) -> GitHubError:
    """The `GitHubError` for a refused call, with GitHub's `message` when the body has one."""
    body = raw.content.decode("utf-8", errors="replace")[:ERROR_BODY_CHARS]
    try:
        parsed = json.loads(raw.content)
    except ValueError:
        parsed = None
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return GitHubError(raw.status_code, message if isinstance(message, str) else None, body=body)


class UnreadableResponse(GitHubError):
    """GitHub answered 2xx with a body that is not JSON (an HTML error page, a truncated stream)."""

    def __init__(self, status: int, *, body: str = "") -> None:
        super().__init__(
            status, body=body, text=f"GitHub returned an unreadable response (status {status})"
        )


class RateLimited(GitHubError):
    """The budget is spent (or kept in reserve) until `reset`; the job becomes blocked until then.

    Attributes:
        reset: When calls may resume (timezone-aware UTC).
        remaining: The remaining budget GitHub reported, if known.
        limit: The budget per window GitHub reported, if known.
    """

    def __init__(
        self,
        reset: dt.datetime,
        remaining: int | None = None,
        limit: int | None = None,
        *,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        self.reset = reset
        self.remaining = remaining
        self.limit = limit
        when = reset.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(
            status,
            message,
            text=f"GitHub rate limit reached; syncing resumes after {when}.",
        )


class AuthError(GitHubError):
    """GitHub refused our credentials, or this source has none to offer; reconnecting fixes it."""

    def __init__(self, text: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(status, body=body, text=text)


class ConfigError(GitHubError):
    """The GitHub App is not configured (or its key cannot be read)."""

    def __init__(
        self, text: str = "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY must be configured"
    ) -> None:
        super().__init__(None, text=text)


class TokenMintError(GitHubError):
    """GitHub refused to mint an installation token."""

    def __init__(self, status: int, body: str = "") -> None:
        super().__init__(
            status,
            body=body,
            text=f"Failed to mint installation token ({status}): {body[:MINT_BODY_CHARS]}",
        )


class NotModified(Exception):  # noqa: N818 - an outcome, not an error
    """The resource has not changed since the ETag we sent (HTTP 304; costs no rate limit).

    Attributes:
        etag: The ETag that still holds.
    """

    def __init__(self, etag: str | None = None) -> None:
        self.etag = etag
        super().__init__("GitHub reports the resource unchanged (304 Not Modified)")
