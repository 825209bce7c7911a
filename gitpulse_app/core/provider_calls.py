"""The outcome of the latest call this process made to each model provider.

The deep health check reports `llm` and `embeddings` as degraded when the latest call in the last
hour failed. Like the providers' own availability marks, the record is per process: the call was
made here, and each process answers its own health checks. The local providers never fail and
record nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

LLM = "llm"
EMBEDDINGS = "embeddings"
MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class CallOutcome:
    """One call: when it ended, whether it succeeded, and the failure in a sentence."""

    ok: bool
    at: dt.datetime
    message: str | None = None


_latest: dict[str, CallOutcome] = {}
_lock = threading.Lock()


def record_call(service: str, ok: bool, message: str | None = None,
                at: dt.datetime | None = None) -> None:
    """Remember a call's outcome as the latest of `service` (`llm` or `embeddings`)."""
    if message is not None and len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT - 1] + "…"
    outcome = CallOutcome(ok, at or dt.datetime.now(dt.UTC), None if ok else message)
    with _lock:
        _latest[service] = outcome


def latest_call(service: str) -> CallOutcome | None:
    """The latest recorded call of `service` in this process, if any."""
    with _lock:
        return _latest.get(service)


def forget_calls() -> None:
    """Drop every record (tests, a configuration change)."""
    with _lock:
        _latest.clear()
