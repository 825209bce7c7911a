"""The scripted side of the fake HTTP server: responses to send, requests received, routes.

`FakeHTTPServer` (tests/support/fake_http.py) answers each request with the `FakeResponse` of the
newest matching `Route` and records it as a `RecordedRequest`.
"""

from __future__ import annotations

import json as jsonlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Union
from urllib.parse import parse_qs

_NO_JSON: Any = object()




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
