"""A fake GitHub REST API on 127.0.0.1, reached through `GITHUB_API_URL`.

It behaves like api.github.com where GitPulse depends on it: recorded responses (octokit fixtures)
are replayed with their URLs pointing at the fake, list endpoints paginate with real `Link`
headers, every response carries `x-ratelimit-*` headers from a budget that runs out and resets,
and GET responses carry an `ETag` that turns a matching `If-None-Match` into a 304 which, as on
GitHub, does not spend the budget.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from tests.support.fake_http import FakeHTTPServer
from tests.support.fake_http_wire import FakeResponse, HeaderInput, RecordedRequest, Route
from tests.support.fake_server_base import stop_and_check

GITHUB_API = "https://api.github.com"
MAX_PER_PAGE = 100
_REPO_ROOT = Path(__file__).resolve().parents[2]
# Recorded headers the fake replaces with its own (framing, dates, ETags, the rate-limit budget).
_RECORDED_HEADERS_DROPPED = frozenset(
    {"connection", "content-length", "transfer-encoding", "date", "etag", "status"}
)


def fixture_dirs() -> list[Path]:
    """Where recorded REST exchanges are looked up, first match wins."""
    dirs = [
        _REPO_ROOT / "tests" / "fixtures" / "github" / "rest",
        _REPO_ROOT.parent / "shared" / "fixtures" / "github" / "rest",
    ]
    if os.environ.get("GITPULSE_GITHUB_FIXTURES"):
        dirs.insert(0, Path(os.environ["GITPULSE_GITHUB_FIXTURES"]))
    return dirs


def fixture_path(name: str | Path) -> Path:
    """The file of recorded exchanges called `name` (e.g. `"paginate-issues"`)."""
    candidate = Path(name)
    if candidate.is_file():
        return candidate
    filename = candidate.name if candidate.suffix == ".json" else f"{candidate.name}.json"
    for directory in fixture_dirs():
        if (directory / filename).is_file():
            return directory / filename
    searched = ", ".join(str(d) for d in fixture_dirs())
    raise FileNotFoundError(f"no recorded GitHub fixture {filename!r} in {searched}")


def _as_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): W/"x" and "x" are the same representation.
    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    wanted = opaque(etag)
    return any(tag.strip() == "*" or opaque(tag) == wanted for tag in if_none_match.split(","))


@dataclass
class RateLimit:
    """The request budget GitHub reports in `x-ratelimit-*` headers."""

    limit: int = 5000
    remaining: int = 5000
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)
    used: int = 0
    resource: str = "core"

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": self.resource,
        }

    def as_json(self) -> dict[str, int]:
        return {"limit": self.limit, "remaining": self.remaining, "reset": self.reset, "used": self.used}


class FakeGitHub(FakeHTTPServer):
    """A `FakeHTTPServer` that answers like the GitHub REST API.

    Args:
        etags: Give 200 GET responses an ETag and answer a matching `If-None-Match` with 304.
    """

    def __init__(self, *, etags: bool = True) -> None:
        super().__init__("fake-github")
        self.etags = etags
        # GitHub's own clock (epoch seconds) for the rate-limit window; a test may set another.
        self.clock: Callable[[], float] = time.time
        self.rate_limit = RateLimit()
        self.rate_limited_status = 403
        self._add_defaults()

    def _add_defaults(self) -> None:
        # The health check reads this; like GitHub, it does not spend the budget.
        self.add("GET", "/rate_limit", self._rate_limit_response)

    def reset(self) -> None:
        """Forget routes, requests and errors; restore the default routes and a full budget."""
        super().reset()
        with self._lock:
            self.rate_limit = RateLimit()
        self._add_defaults()

    # Rate limit ----------------------------------------------------------------------------------
    def set_rate_limit(
        self,
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset: int | float | None = None,
        status: int | None = None,
    ) -> None:
        """Change the budget.

        Args:
            remaining: Requests left; at 0 further requests are refused until `reset`.
            limit: Budget per window.
            reset: Epoch seconds when the budget refills.
            status: Status of a refused request (403 by default; GitHub also uses 429).
        """
        with self._lock:
            if limit is not None:
                self.rate_limit.limit = limit
            if remaining is not None:
                self.rate_limit.remaining = remaining
                self.rate_limit.used = max(0, self.rate_limit.limit - remaining)
            if reset is not None:
                self.rate_limit.reset = int(reset)
            if status is not None:
                self.rate_limited_status = status

    def _rate_limit_response(self, request: RecordedRequest) -> FakeResponse:
        with self._lock:
            core = self.rate_limit.as_json()
        search = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
        return FakeResponse(
            200, json={"resources": {"core": core, "search": search}, "rate": core}
        )

    def _refill_if_due(self) -> None:
        if self.clock() >= self.rate_limit.reset:
            self.rate_limit.remaining = self.rate_limit.limit
            self.rate_limit.used = 0
            self.rate_limit.reset = int(self.clock()) + 3600

    def before_route(self, request: RecordedRequest) -> FakeResponse | None:
        if request.path == "/rate_limit":
            return None
        with self._lock:
            self._refill_if_due()
            if self.rate_limit.remaining > 0:
                return None
            status = self.rate_limited_status
        return FakeResponse(
            status,
            json={
                "message": "API rate limit exceeded. (fake GitHub)",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            },
        )

    # Conditional requests and common headers -----------------------------------------------------
    def after_route(self, request: RecordedRequest, response: FakeResponse) -> FakeResponse:
        headers = response.header_pairs()
        names = {name.lower() for name, _ in headers}
        counts = request.path != "/rate_limit"
        if self.etags and request.method in ("GET", "HEAD") and response.status == 200:
            etag = response.header("etag")
            if etag is None:
                etag = '"' + hashlib.sha256(response.payload()).hexdigest()[:40] + '"'
                headers.append(("ETag", etag))
            if_none_match = request.headers.get("if-none-match")
            if if_none_match and _etag_matches(if_none_match, etag):
                counts = False  # GitHub: a 304 does not count against the rate limit
                response = FakeResponse(304)
                headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
        with self._lock:
            if counts:
                self.rate_limit.remaining = max(0, self.rate_limit.remaining - 1)
                self.rate_limit.used += 1
            budget = self.rate_limit.headers()
        if "x-ratelimit-remaining" not in names:  # a scripted response may set its own
            headers.extend(budget.items())
        return FakeResponse(
            response.status,
            body=response.payload(),
            headers=headers,
            delay=response.delay,
            disconnect=response.disconnect,
        )

    # Recorded fixtures ---------------------------------------------------------------------------
    def rewrite(self, value: Any) -> Any:
        """`value` with every `https://api.github.com` URL pointing at this fake instead."""
        if isinstance(value, str):
            return value.replace(GITHUB_API, self.url)
        if isinstance(value, list):
            return [self.rewrite(item) for item in value]
        if isinstance(value, dict):
            return {key: self.rewrite(item) for key, item in value.items()}
        return value

    def load_fixture(self, name: str | Path) -> list[Route]:
        """Serve the recorded exchanges of one fixture file (see `fixture_dirs`).

        Exchanges with the same method, path and query become one route answering them in order.
        The request's query must contain the recorded parameters; routes with more parameters
        take precedence.

        Returns:
            The routes added.
        """
        exchanges = json.loads(fixture_path(name).read_text(encoding="utf-8"))
        grouped: dict[tuple[str, str], list[FakeResponse]] = {}
        for exchange in exchanges:
            headers = [
                (header, self.rewrite(str(value)))
                for header, value in exchange.get("headers", {}).items()
                if header.lower() not in _RECORDED_HEADERS_DROPPED
                and not header.lower().startswith("x-ratelimit-")
            ]
            recorded = exchange.get("response", "")
            if exchange.get("responseIsBinary") or isinstance(recorded, str):
                response = FakeResponse(exchange["status"], body=recorded, headers=headers)
            else:
                response = FakeResponse(
                    exchange["status"], json=self.rewrite(recorded), headers=headers
                )
            key = (exchange["method"].upper(), exchange["path"])
            grouped.setdefault(key, []).append(response)
        # Newest route wins, so add the ones with fewer query parameters first.
        ordered = sorted(grouped.items(), key=lambda item: len(parse_qsl(urlsplit(item[0][1]).query)))
        return [self.add(method, path, responses) for (method, path), responses in ordered]

    @staticmethod
    def fixture_names() -> list[str]:
        """Names of the recorded fixtures available to `load_fixture`."""
        names: set[str] = set()
        for directory in fixture_dirs():
            if directory.is_dir():
                names.update(path.stem for path in directory.glob("*.json"))
        return sorted(names)

    # Scripted endpoints --------------------------------------------------------------------------
    def add_json(
        self,
        path: str,
        data: Any,
        *,
        status: int = 200,
        method: str = "GET",
        headers: HeaderInput | None = None,
    ) -> Route:
        """Answer `method path` with `data` as JSON (newest route wins, so this also overrides)."""
        return self.add(method, path, FakeResponse(status, json=data, headers=headers or {}))

    def add_paginated(
        self,
        path: str,
        items: Sequence[Any],
        per_page: int = 100,
        *,
        key: str | None = None,
        extra: Mapping[str, Any] | None = None,
        method: str = "GET",
    ) -> Route:
        """Serve `items` page by page, honouring `page`/`per_page` and sending GitHub's `Link` header.

        Args:
            path: The list endpoint, e.g. `/repos/o/r/issues`.
            items: Everything the endpoint lists (read at request time, so it may grow).
            per_page: Page size when the request gives none (GitHub caps it at 100).
            key: For wrapped lists such as `/installation/repositories` (`"repositories"`) or search
                (`"items"`): the body becomes `{"total_count": n, key: page, **extra}`.
            extra: More top-level fields of a wrapped body (e.g. `incomplete_results`).
            method: Usually GET.
        """

        def respond(request: RecordedRequest) -> FakeResponse:
            size = max(1, min(_as_int(request.param("per_page"), per_page), MAX_PER_PAGE))
            page = max(1, _as_int(request.param("page"), 1))
            last = max(1, math.ceil(len(items) / size))
            chunk = list(items[(page - 1) * size : page * size])
            body: Any = chunk if key is None else {"total_count": len(items), key: chunk, **(extra or {})}
            link = self._page_links(request, page, last)
            return FakeResponse(200, json=body, headers={"Link": link} if link else {})

        return self.add(method, path, respond)

    def _page_links(self, request: RecordedRequest, page: int, last: int) -> str:
        pairs = [(k, v) for k, v in parse_qsl(urlsplit(request.target).query, keep_blank_values=True)]

        def url(number: int) -> str:
            query = [(k, v) for k, v in pairs if k != "page"] + [("page", str(number))]
            return f"{self.url}{request.path}?{urlencode(query, quote_via=quote)}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return ", ".join(links)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started `FakeGitHub`; point `GITHUB_API_URL` at `fake_github.url`."""
    server = FakeGitHub().start()
    yield server
    stop_and_check([server])
