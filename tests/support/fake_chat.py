"""Fake Slack, Discord and webhook receivers on 127.0.0.1 that speak the real wire formats.

Each is a `FakeHTTPServer` (tests/support/fake_http.py) with one route at the path the real
service uses: a Slack incoming webhook (`/services/T…/B…/…`, answers `200 ok` in text, and Slack's
text error codes such as `400 invalid_blocks`), a Discord webhook (`/api/webhooks/{id}/{token}`,
answers `204`, rate limits with `429 {"retry_after": …}` plus `Retry-After`, and `400 Invalid
Form Body` when a limit is broken) and a generic receiver (`/hooks/gitpulse`, answers `200`).
The Slack and Discord fakes enforce the platforms' documented limits, so a message that would be
refused in production is refused here too. `script(...)` queues answers that override the
default for the next requests.

Channels need `GITPULSE_CHANNELS_ALLOW_PRIVATE=1` to reach these servers (http on 127.0.0.1).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fake_http import FakeHTTPServer, FakeResponse, RecordedRequest
from tests.support.fake_server_base import stop_and_check

SLACK_PATH = "/services/T0001/B0002/abcdefghijklmnopqrstuvwx"
DISCORD_PATH = "/api/webhooks/123456789012345678/discord-token_abc-XYZ"
WEBHOOK_PATH = "/hooks/gitpulse"


class _Receiver:
    """A fake endpoint: a default answer, scripted overrides, and the requests it received."""

    path = "/"

    def __init__(self, name: str) -> None:
        self.server = FakeHTTPServer(name).start()
        self._lock = threading.Lock()
        self._script: list[FakeResponse] = []
        self.route = self.server.add("POST", self.path, self._answer)

    @property
    def url(self) -> str:
        return self.server.url + self.path

    def script(self, *responses: FakeResponse) -> None:
        """Answer the next requests with these, in order, then go back to the default."""
        with self._lock:
            self._script.extend(responses)

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        return scripted or self.default(request)

    def default(self, request: RecordedRequest) -> FakeResponse:
        return FakeResponse(200, body="ok")

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.route.hits)

    def wait(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        return self.server.wait_for_requests(count, self.path, timeout)

    def stop(self) -> None:
        self.server.stop()

    @property
    def errors(self) -> list[BaseException]:
        return self.server.errors


class FakeSlack(_Receiver):
    """A Slack incoming webhook: `200 ok`, or Slack's text error codes."""

    path = SLACK_PATH

    def default(self, request: RecordedRequest) -> FakeResponse:
        try:
            payload = json.loads(request.body)
        except ValueError:
            return FakeResponse(400, body="invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return FakeResponse(400, body="no_text")
        blocks = payload.get("blocks") or []
        if len(blocks) > 50:
            return FakeResponse(400, body="invalid_blocks")
        for block in blocks:
            text = (block.get("text") or {}).get("text", "")
            limit = 150 if block.get("type") == "header" else 3000
            if len(text) > limit:
                return FakeResponse(400, body="invalid_blocks")
        return FakeResponse(200, body="ok", headers={"Content-Type": "text/html"})

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests]

    @staticmethod
    def error(code: str, status: int) -> FakeResponse:
        return FakeResponse(status, body=code, headers={"Content-Type": "text/html"})


class FakeDiscord(_Receiver):
    """A Discord webhook: `204`, `429` with `retry_after`, `400 Invalid Form Body` on limits."""

    path = DISCORD_PATH

    def default(self, request: RecordedRequest) -> FakeResponse:
        try:
            payload = json.loads(request.body)
        except ValueError:
            return FakeResponse(400, json={"code": 50109, "message": "The request body contains "
                                                                      "invalid JSON."})
        embeds = payload.get("embeds") or []
        total = sum(len(e.get("title", "")) + len(e.get("description", ""))
                    + len((e.get("footer") or {}).get("text", "")) for e in embeds)
        broken = (len(embeds) > 10 or total > 6000
                  or any(len(e.get("description", "")) > 4096 or len(e.get("title", "")) > 256
                         for e in embeds)
                  or not (payload.get("content") or embeds))
        if broken:
            return FakeResponse(400, json={"code": 50035, "message": "Invalid Form Body"})
        return FakeResponse(204)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests]

    @staticmethod
    def rate_limited(retry_after: float) -> FakeResponse:
        return FakeResponse(429, json={"message": "You are being rate limited.",
                                       "retry_after": retry_after, "global": False},
                            headers={"Retry-After": str(math.ceil(retry_after))})

    @staticmethod
    def unknown_webhook() -> FakeResponse:
        return FakeResponse(404, json={"message": "Unknown Webhook", "code": 10015})


class FakeWebhookReceiver(_Receiver):
    """Any HTTPS endpoint a team points GitPulse at: records the raw bodies and headers."""

    path = WEBHOOK_PATH


@pytest.fixture
def fake_chat() -> Iterator[Callable[[str], _Receiver]]:
    """`fake_chat("slack" | "discord" | "webhook")` → a started receiver, stopped after the test."""
    made: list[_Receiver] = []
    kinds = {"slack": FakeSlack, "discord": FakeDiscord, "webhook": FakeWebhookReceiver}

    def make(kind: str) -> _Receiver:
        receiver = kinds[kind](f"fake-{kind}")
        made.append(receiver)
        return receiver

    yield make
    stop_and_check(made)
