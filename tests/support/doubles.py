"""Count double processing from the signals that would show it, not from unique keys.

Unique constraints already keep `webhook_events.delivery_id` and `events (type, source_url)`
unique, so counting rows can never find a duplicate. What a second processing leaves behind is
in the processes' JSON log lines and on the wire:

- an envelope completed twice: two `webhook_lag_ms` metric lines (written once per completion)
  for one `delivery_id`;
- a `fact_changed` emitted twice for one observation: two `fact_changed` metric lines for the
  same `(event_id, content_hash)` — the same fact announced twice with the same content;
- a second email or channel message: the same message key twice among the transmissions a fake
  server received.

The load benchmark and the fault suite both count this way; tests/bench checks the counter
against the records of a run that really processed an envelope twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMPLETED_METRIC = "webhook_lag_ms"
ANNOUNCED_METRIC = "fact_changed"
CLAIM_GONE_MESSAGE = "Webhook envelope was reclaimed while processing"


@dataclass(frozen=True)
class DoubleProcessing:
    """What was done more than once (each count is the number of extra times)."""

    envelopes_completed_twice: int = 0
    facts_announced_twice: int = 0
    messages_sent_twice: int = 0

    @property
    def total(self) -> int:
        return (self.envelopes_completed_twice + self.facts_announced_twice
                + self.messages_sent_twice)


def _extra(keys: Iterable[Hashable]) -> int:
    return sum(n - 1 for n in Counter(keys).values() if n > 1)


def count_double_processing(records: Iterable[dict[str, Any]],
                            messages: Iterable[Hashable] = ()) -> DoubleProcessing:
    """Count double processing in log records (and optionally in sent messages' keys).

    Args:
        records: Parsed JSON log lines of every process of the run.
        messages: One key per transmission a fake mail or chat server received (e.g. recipient
            and subject); a key seen twice is a second message.
    """
    completions: list[str] = []
    announcements: list[tuple[Any, Any]] = []
    for record in records:
        name = record.get("metric")
        if name == COMPLETED_METRIC:
            completions.append(record.get("delivery_id"))
        elif name == ANNOUNCED_METRIC:
            announcements.append((record.get("event_id"), record.get("content_hash")))
    return DoubleProcessing(
        envelopes_completed_twice=_extra(completions),
        facts_announced_twice=_extra(announcements),
        messages_sent_twice=_extra(messages),
    )


def parse_log_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON objects among `lines` (a server's other output is skipped)."""
    records = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_log_records(*paths: Path) -> list[dict[str, Any]]:
    """The JSON log records of every file in `paths`, in order."""
    records: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            records.extend(parse_log_lines(lines))
    return records


def completion_lines(read: Callable[[], list[dict[str, Any]]], delivery_ids: Iterable[str],
                     timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """The records `read` returns once they hold a completion line for every delivery.

    A process writes the line just after its commit, so a reader that saw the envelopes
    completed may be a moment early; `read` is called again until the lines are there. Without
    them the double-processing count would be blind (a log level above INFO, a log written
    elsewhere): RuntimeError after `timeout_s`.
    """
    wanted = set(delivery_ids)
    deadline = time.monotonic() + timeout_s
    while True:
        records = read()
        # A commit whose answer a cut connection lost: the envelope is completed, but its
        # process only learns so when it finds the claim gone, and says that instead.
        seen = {r.get("delivery_id") for r in records
                if r.get("metric") == COMPLETED_METRIC or r.get("msg") == CLAIM_GONE_MESSAGE}
        missing = wanted - seen
        if not missing:
            return records
        if time.monotonic() > deadline:
            raise RuntimeError(f"the logs hold no completion line for {len(missing)} "
                               "deliveries, so double processing cannot be counted")
        time.sleep(0.1)
