"""The one clock type and the one source of "now"; time is always injected as a `Clock`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_z(instant: dt.datetime, timespec: str = "auto") -> str:
    """An aware instant as ISO-8601 UTC with `Z`, e.g. `2025-12-05T15:00:00Z`.

    `timespec` is `datetime.isoformat`'s: "auto" (microseconds only when non-zero; the JSON and CLI
    format), "seconds" (GitHub's query parameters) or "microseconds" (fixed width, for keys).
    """
    return instant.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def iso_z_or_none(instant: dt.datetime | None) -> str | None:
    """`iso_z`, with None for no instant."""
    return None if instant is None else iso_z(instant)
