"""What the GitHub client hands back: responses, pages and the rate-limit budget.

Also the pure rules that read them: which 403/429 is a rate limit and until when, and which page
a URL names. The client applies them; keeping them here keeps its request loop short.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from .errors import GitHubError

CORE_RESOURCE = "core"
DEFAULT_RATE_LIMIT_WAIT = dt.timedelta(seconds=60)
RATE_LIMIT_WORDS = ("rate limit", "abuse", "secondary")


@dataclass(frozen=True)
class RateLimitInfo:
    """The budget reported by one response's `x-ratelimit-*` headers.

    Attributes:
        remaining: Requests left in the window.
        limit: Requests per window; 0 together with `remaining == 0` means rate limiting is off.
        reset: When the window refills (timezone-aware UTC).
        resource: Which budget (`core`, `search`, …); None when GitHub did not say.
    """

    remaining: int | None
    limit: int | None
    reset: dt.datetime | None
    resource: str | None = None

    @property
    def disabled(self) -> bool:
        """True when GitHub (Enterprise) does not rate-limit: 0/0, or no numbers at all."""
        if self.remaining is None and self.limit is None:
            return True
        return self.limit == 0 and self.remaining == 0

    @property
    def exhausted(self) -> bool:
        """True when the budget is spent (remaining 0 out of a real limit)."""
        return not self.disabled and self.remaining == 0 and (self.limit or 0) > 0

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read `x-ratelimit-remaining/limit/reset/resource`; None when none of them is present."""
        remaining = _int_or_none(headers.get("x-ratelimit-remaining"))
        limit = _int_or_none(headers.get("x-ratelimit-limit"))
        reset_epoch = _int_or_none(headers.get("x-ratelimit-reset"))
        if remaining is None and limit is None and reset_epoch is None:
            return None
        reset = dt.datetime.fromtimestamp(reset_epoch, dt.UTC) if reset_epoch is not None else None
        return cls(remaining, limit, reset, headers.get("x-ratelimit-resource"))


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """`Retry-After` in seconds: GitHub sends a number; RFC 9110 also allows an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return (email.utils.parsedate_to_datetime(value) - now).total_seconds()
    except (TypeError, ValueError):
        return None


def rate_limit_resume_at(
    status: int, headers: Mapping[str, str], message: str | None, now: dt.datetime
) -> dt.datetime | None:
    """When a refused call may be retried if it was a rate limit; None when it was not one.

    A 403/429 is a rate limit when the status is 429, the budget is exhausted (remaining 0 out of
    a limit > 0), or GitHub's message mentions "rate limit", "abuse" or "secondary". The wait is
    `retry-after` seconds when given, else until `x-ratelimit-reset`, else 60 s. A reset is not
    used while the headers show budget left: it then belongs to the primary budget, not to the
    secondary limit that refused us (GitHub's guidance: wait at least a minute).
    """
    info = RateLimitInfo.from_headers(headers)
    text = (message or "").lower()
    limited = (
        status == 429
        or (info is not None and info.exhausted)
        or any(word in text for word in RATE_LIMIT_WORDS)
    )
    if status not in (403, 429) or not limited:
        return None
    retry_after = retry_after_seconds(headers.get("retry-after"), now)
    if retry_after is not None:
        return now + dt.timedelta(seconds=max(0.0, retry_after))
    budget_left = info is not None and (info.remaining or 0) > 0
    if info is not None and info.reset is not None and not info.disabled and not budget_left:
        return info.reset
    return now + DEFAULT_RATE_LIMIT_WAIT


def page_number(url: str | httpx.URL | None) -> int | None:
    """The `page` query parameter of a URL, if it has a numeric one."""
    if url is None:
        return None
    values = parse_qs(httpx.URL(str(url)).query.decode("ascii", errors="replace")).get("page")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Response:
    """One successful (2xx) answer.

    Attributes:
        data: The parsed JSON body (None for 204).
        etag: The `ETag` header, to store and send back as `If-None-Match`.
        headers: All response headers.
        next_url: The `Link: rel="next"` URL, verbatim, if any.
        last_page: The page number of `Link: rel="last"` (or this page's, when it is the last).
        rate_limit: The budget this response reported, if it reported one.
        status: The HTTP status.
        url: The URL that answered.
    """

    data: Any
    etag: str | None
    headers: httpx.Headers
    next_url: str | None
    last_page: int | None
    rate_limit: RateLimitInfo | None
    status: int = 200
    url: str = ""


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint.

    Attributes:
        items: The page's items (unwrapped from `{"total_count": …, "repositories": [...]}` bodies).
        next_url: Where the next page is (save it to resume with `GitHubClient.get_page`); None at
            the end.
        page_number: This page's number (the `page` query parameter, else 1).
        last_page: The number of the last page when GitHub said so.
        etag: This page's ETag.
        total_count: `total_count` of wrapped bodies.
    """

    items: list[Any]
    next_url: str | None
    page_number: int
    last_page: int | None
    etag: str | None = None
    total_count: int | None = None
    raw: Any = field(default=None, repr=False)

    @classmethod
    def from_response(cls, response: Response, key: str | None = None) -> Page:
        """The page a response holds: its body, or the one list inside a wrapped body.

        Raises:
            GitHubError: The body holds no list (or several, and `key` does not pick one).
        """
        data, total = response.data, None
        items: Any = data
        if isinstance(data, dict):
            total = data.get("total_count") if isinstance(data.get("total_count"), int) else None
            lists = [value for value in data.values() if isinstance(value, list)]
            items = data.get(key) if key is not None else (lists[0] if len(lists) == 1 else None)
        if not isinstance(items, list):
            text = f"GitHub returned no list where one was expected ({response.url})."
            raise GitHubError(response.status, text=text)
        return cls(
            items=items,
            next_url=response.next_url,
            page_number=page_number(response.url) or 1,
            last_page=response.last_page,
            etag=response.etag,
            total_count=total,
            raw=data,
        )
