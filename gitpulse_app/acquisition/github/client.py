"""The one async client for GitHub's REST API.

Every call carries the same headers, goes only to `GITHUB_API_URL`'s host, records the rate-limit
budget, and follows one retry policy:

- 5xx, network errors, timeouts and unreadable 2xx bodies: up to 3 retries after 1 s, 2 s, 4 s.
- 401: the token source refreshes once (a new installation token), then the call is retried once.
- Rate limits (429; 403 with an exhausted budget or a "rate limit"/"abuse"/"secondary" message):
  wait `retry-after`, else until the reset, else 60 s; a wait of at most 60 s is slept, a longer
  one raises `RateLimited(reset)` so the job becomes blocked instead of holding a worker.
- Any other 4xx raises `GitHubError` at once.

Budget reserve: when a successful response shows fewer than `keep_in_reserve` (100) core requests
left and a reset in the future, that response is still returned, but the client remembers the
reset (`low_budget_reset`) and the *next* call pauses as for a rate limit: it sleeps when the reset
is at most 60 s away, else raises `RateLimited`. Raising on the next call rather than discarding a
response already paid for lets a paginating job save its cursor (the page's `next_url`) first.
Webhook-driven work, which the reserve exists for, builds its client with `keep_in_reserve=0`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from gitpulse_app.core.clock import Clock, utcnow
from gitpulse_app.core.config import VERSION, get_settings
from gitpulse_app.core.logging import get_logger, log_fields, metric

from .errors import (
    ERROR_BODY_CHARS,
    AuthError,
    GitHubError,
    NotModified,
    RateLimited,
    UnreadableResponse,
    error_from_response,
)
from .models import (
    CORE_RESOURCE,
    DEFAULT_RATE_LIMIT_WAIT,
    Page,
    RateLimitInfo,
    Response,
    page_number,
    rate_limit_resume_at,
)

if TYPE_CHECKING:
    from .auth import TokenSource

API_VERSION = "2022-11-28"
PER_PAGE = 100
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RETRY_DELAYS_S = (1.0, 2.0, 4.0)
MAX_SLEPT_WAIT_S = 60.0
MAX_RATE_LIMIT_WAITS = 3
LOW_BUDGET_RESERVE = 100
LOW_BUDGET_METRIC_BELOW = 500
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Sleep = Callable[[float], Awaitable[Any]]
RateLimitCallback = Callable[[RateLimitInfo], None]

logger = get_logger(__name__)


def api_headers(token: str) -> dict[str, str]:
    """The headers every GitHub call carries."""
    return {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": f"gitpulse/{VERSION}",
        "Authorization": f"Bearer {token}",
    }


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port or _DEFAULT_PORTS.get(parsed.scheme)


class _BorrowedTransport(httpx.AsyncBaseTransport):
    """An injected transport: used, never closed here (several clients may share it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


class GitHubClient:
    """An async client for one identity (installation, PAT or user) on `GITHUB_API_URL`.

    Args:
        token_source: Supplies the bearer token and refreshes it after a 401.
        base_url: REST root; defaults to `GITHUB_API_URL` (trailing slash stripped).
        transport: An httpx transport (tests, proxies); its owner closes it, not the client.
        sleep: Awaited for every wait (tests inject a recorder that does not sleep).
        now: The clock used for rate-limit waits.
        on_rate_limit: Called with the budget after every response that reports one.
        keep_in_reserve: Core requests kept for webhook-driven work (0 disables the reserve).
        installation_id: Our installation row id, for the `rate_limit_remaining` metric.
        retry_delays_s: The waits before each retry of a failed call (no retries when empty).
        max_slept_wait_s: The longest rate-limit wait slept; a longer one raises `RateLimited`.
    """

    def __init__(
        self,
        token_source: TokenSource,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Clock = utcnow,
        on_rate_limit: RateLimitCallback | None = None,
        keep_in_reserve: int = LOW_BUDGET_RESERVE,
        installation_id: int | None = None,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        max_slept_wait_s: float = MAX_SLEPT_WAIT_S,
    ) -> None:
        self.base_url = (base_url or get_settings().github_api_url).rstrip("/")
        self._origin = _origin(self.base_url)
        self._token_source = token_source
        self._sleep = sleep
        self._now = now
        self._on_rate_limit = on_rate_limit
        self.keep_in_reserve = keep_in_reserve
        self.installation_id = installation_id
        self._retry_delays_s = tuple(retry_delays_s)
        self._max_slept_wait_s = max_slept_wait_s
        self.rate_limit: RateLimitInfo | None = None
        self.low_budget_reset: dt.datetime | None = None
        self._http = httpx.AsyncClient(
            transport=_BorrowedTransport(transport) if transport is not None else None,
            timeout=TIMEOUT,
            follow_redirects=False,
        )

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # Calls ---------------------------------------------------------------------------------------
    async def get_json(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> Response:
        """GET one resource.

        Args:
            path_or_url: A path under `base_url` (`/repos/o/r`) or a full URL on its host.
            params: Query parameters.
            etag: A stored ETag, sent as `If-None-Match`.

        Raises:
            NotModified: The resource is unchanged since `etag` (304).
            RateLimited: The budget is spent until `reset` (more than 60 s away).
            GitHubError: Any other failure, after the allowed retries.
        """
        return await self.request("GET", path_or_url, params=params, etag=etag)

    async def post_json(self, path_or_url: str, json_body: Any = None) -> Response:
        """POST `json_body` (or nothing) and return the answer; same errors as `get_json`."""
        return await self.request("POST", path_or_url, json_body=json_body)

    async def get_page(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        etag: str | None = None,
        key: str | None = None,
    ) -> Page:
        """Fetch one page, e.g. to resume from a saved `Page.next_url` (sent verbatim).

        Args:
            url: A full URL (a saved next link) or a path.
            params: Query parameters (leave None for a saved next link).
            etag: A stored ETag for a conditional request.
            key: For wrapped lists, the key holding the items; found automatically when the body
                has exactly one list.
        """
        response = await self.request("GET", url, params=params, etag=etag, following_link=True)
        return Page.from_response(response, key)

    async def paginate(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        etag: str | None = None,
        key: str | None = None,
    ) -> AsyncIterator[Page]:
        """Yield every page, following `Link: rel="next"` verbatim until there is none.

        A path gets `per_page=100` unless `params` says otherwise; a full URL (a saved next link)
        is sent as is. `etag` applies to the first page only (304 raises `NotModified`).

        Raises:
            GitHubError: A next link points to another host, or repeats a page already fetched.
        """
        is_url = path_or_url.lower().startswith(("http://", "https://"))
        query = dict(params or {}) if is_url else {"per_page": PER_PAGE, **(params or {})}
        page = await self.get_page(path_or_url, query or None, etag=etag, key=key)
        seen: set[str] = set()
        while True:
            yield page
            if page.next_url is None:
                return
            if page.next_url in seen:
                loop = f"GitHub's next link repeats a page ({page.next_url})."
                raise GitHubError(None, text=loop)
            seen.add(page.next_url)
            page = await self.get_page(page.next_url, key=key)

    async def collect(
        self, path: str, params: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> list[Any]:
        """Every item of a list endpoint, all pages."""
        items: list[Any] = []
        async for page in self.paginate(path, params, key=key):
            items.extend(page.items)
        return items

    async def list_app_installations(self) -> list[dict[str, Any]]:
        """`GET /app/installations` (needs an App JWT token source)."""
        return await self.collect("/app/installations")

    async def list_installation_repositories(self) -> list[dict[str, Any]]:
        """`GET /installation/repositories` (needs an installation token source)."""
        return await self.collect("/installation/repositories", key="repositories")

    async def get_user(self) -> dict[str, Any]:
        """`GET /user`: whose token this is (OAuth identity)."""
        return (await self.get_json("/user")).data

    async def get_user_emails(self) -> list[dict[str, Any]]:
        """`GET /user/emails`: the signed-in user's addresses (OAuth identity)."""
        return await self.collect("/user/emails")

    async def list_user_installations(self) -> list[dict[str, Any]]:
        """`GET /user/installations`: installations the user can access (App user token)."""
        return await self.collect("/user/installations", key="installations")

    # The request loop ----------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        etag: str | None = None,
        following_link: bool = False,
    ) -> Response:
        """One call with the standard headers, retries and rate-limit handling; 2xx → `Response`."""
        url = self._resolve(path_or_url, following_link=following_link)
        await self._respect_reserve()
        retries = rate_limit_waits = redirects = 0
        refreshed = False
        while True:
            headers = api_headers(await self._token_source.token())
            if etag:
                headers["If-None-Match"] = etag
            try:
                raw = await self._http.request(
                    method, url, params=params, json=json_body, headers=headers
                )
            except (httpx.TransportError, httpx.DecodingError) as exc:
                reason = type(exc).__name__
                failure = GitHubError(
                    None, text=f"GitHub could not be reached ({reason}). Try again later."
                )
                retries = await self._retry_or_raise(retries, failure, url)
                continue
            self._record_rate_limit(raw.headers)
            status = raw.status_code
            if status == 304:
                raise NotModified(raw.headers.get("etag") or etag)
            if 200 <= status < 300:
                try:
                    return self._success(raw)
                except UnreadableResponse as unreadable:
                    retries = await self._retry_or_raise(retries, unreadable, url)
                    continue
            location = raw.headers.get("location")
            if status in _REDIRECTS and location and method == "GET" and redirects < MAX_REDIRECTS:
                # Renamed repositories answer 301; a Location on another host is refused.
                url, params = self._resolve(str(raw.url.join(location))), None
                redirects += 1
                continue
            error = error_from_response(raw)
            if status == 401:
                if not refreshed and await self._token_source.refresh():
                    refreshed = True
                    continue
                raise AuthError(str(error), status=401, body=error.body)
            resume_at = rate_limit_resume_at(status, raw.headers, error.message, self._now())
            if resume_at is not None:
                rate_limit_waits = await self._wait_or_block(resume_at, rate_limit_waits, error)
                continue
            if status >= 500:
                retries = await self._retry_or_raise(retries, error, url)
                continue
            raise error

    def _resolve(self, path_or_url: str, *, following_link: bool = False) -> str:
        if not path_or_url.lower().startswith(("http://", "https://")):
            return f"{self.base_url}/{path_or_url.lstrip('/')}"
        try:
            same_host = _origin(path_or_url) == self._origin
        except httpx.InvalidURL:
            same_host = False
        if not same_host:
            what = "follow pagination to" if following_link else "call"
            raise GitHubError(
                None,
                text=f"Refusing to {what} another host ({path_or_url}): GitPulse sends its "
                f"GitHub tokens only to {self.base_url}.",
            )
        return path_or_url

    def _success(self, raw: httpx.Response) -> Response:
        if not raw.content and (raw.status_code in (204, 205) or raw.request.method == "HEAD"):
            data = None
        else:
            try:
                data = json.loads(raw.content)
            except (ValueError, UnicodeDecodeError):
                body = raw.content.decode("utf-8", errors="replace")[:ERROR_BODY_CHARS]
                raise UnreadableResponse(raw.status_code, body=body) from None
        info = RateLimitInfo.from_headers(raw.headers)
        self._note_budget(info)
        next_url = raw.links.get("next", {}).get("url")
        page = page_number(raw.url) or 1
        last_page = page_number(raw.links.get("last", {}).get("url")) if next_url else page
        return Response(
            data=data,
            etag=raw.headers.get("etag"),
            headers=raw.headers,
            next_url=next_url,
            last_page=last_page,
            rate_limit=info,
            status=raw.status_code,
            url=str(raw.url),
        )

    async def _retry_or_raise(self, retries: int, error: GitHubError, url: str) -> int:
        if retries >= len(self._retry_delays_s):
            raise error
        delay = self._retry_delays_s[retries]
        log_fields(
            logger, logging.WARNING, "GitHub call failed; retrying",
            status=error.status, error=str(error), url=url, attempt=retries + 1, wait_s=delay,
        )
        await self._sleep(delay)
        return retries + 1

    # Rate limits ---------------------------------------------------------------------------------
    async def _wait_or_block(self, resume_at: dt.datetime, waits: int, error: GitHubError) -> int:
        now = self._now()
        wait = max(0.0, (resume_at - now).total_seconds())  # a reset already past waits 0 s
        if wait > self._max_slept_wait_s or waits >= MAX_RATE_LIMIT_WAITS:
            if wait <= self._max_slept_wait_s:  # still limited after the waits we allow: block a while
                resume_at = max(resume_at, now + DEFAULT_RATE_LIMIT_WAIT)
            raise RateLimited(
                resume_at, *self._budget(), status=error.status, message=error.message
            )
        log_fields(
            logger, logging.INFO, "GitHub rate limit; waiting",
            status=error.status, wait_s=wait, installation_id=self.installation_id,
        )
        await self._sleep(wait)
        return waits + 1

    async def _respect_reserve(self) -> None:
        reset = self.low_budget_reset
        if reset is None:
            return
        wait = (reset - self._now()).total_seconds()
        if wait > self._max_slept_wait_s:
            raise RateLimited(reset, *self._budget())
        if wait > 0:
            await self._sleep(wait)
        self.low_budget_reset = None

    def _budget(self) -> tuple[int | None, int | None]:
        info = self.rate_limit
        return (info.remaining, info.limit) if info is not None else (None, None)

    def _record_rate_limit(self, headers: httpx.Headers) -> None:
        info = RateLimitInfo.from_headers(headers)
        if info is None:
            return  # no headers: rate limiting is off here (GitHub Enterprise)
        previous = self.rate_limit
        self.rate_limit = info
        if self._on_rate_limit is not None:
            self._on_rate_limit(info)
        dropped = (
            not info.disabled
            and info.remaining is not None
            and info.remaining < LOW_BUDGET_METRIC_BELOW
            and (previous is None or previous.remaining is None
                 or previous.remaining >= LOW_BUDGET_METRIC_BELOW)
        )
        if dropped:
            metric(
                "rate_limit_remaining",
                installation_id=self.installation_id,
                remaining=info.remaining,
                limit=info.limit,
            )

    def _note_budget(self, info: RateLimitInfo | None) -> None:
        """After a success: keep the reserve for webhook work when the core budget runs low."""
        if info is None or info.disabled or info.resource not in (None, CORE_RESOURCE):
            return
        low = info.remaining is not None and info.remaining < self.keep_in_reserve
        if low and info.reset is not None and info.reset > self._now():
            self.low_budget_reset = info.reset
        elif not low:
            self.low_budget_reset = None
