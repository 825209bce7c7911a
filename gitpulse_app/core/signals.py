"""In-process signals for notifications that travel against the layer direction.

The layers and the path of a fact through them: docs/ARCHITECTURE.md.

`fact_changed(event_id, result)` goes from Normalization to Intelligence (queue the embedding, mark
reports stale); `batch_finalized(batch_id)` from Acquisition to Intelligence (post-sync report);
`report_ready(report_id, now)` from the report pipeline to delivery, which builds on it.
Receivers run synchronously in the sender's thread after the sender's transaction committed; one
failing receiver is logged and never stops the others or the sender.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Receiver = Callable[..., None]


class Signal:
    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Receiver] = []

    def connect(self, receiver: Receiver) -> Receiver:
        """Subscribe `receiver` (usable as a decorator); connecting twice is a no-op."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Receiver) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def send(self, **payload: Any) -> None:
        for receiver in list(self._receivers):
            try:
                receiver(**payload)
            except Exception:
                log.exception("Receiver of %s failed", self.name)


fact_changed = Signal("fact_changed")
batch_finalized = Signal("batch_finalized")
# Acquisition's sync service → its worker: new jobs exist, start them now instead of at the next poll.
jobs_queued = Signal("jobs_queued")
# The report pipeline → delivery: a final, non-empty scheduled report was saved; queue its email
# and its owner's channels.
report_ready = Signal("report_ready")
