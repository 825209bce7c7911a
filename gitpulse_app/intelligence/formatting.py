"""Dates and times as people read them, in the user's zone.

`format_report_date` → "December 5, 2025"; `format_short_date` → "Dec 5"; `format_date_range` →
"Dec 1 - Dec 7, 2025" (the end is exclusive, so the last covered instant is `end − 1 µs`; the
start's year appears only when the years differ); `format_time` → "9:00 AM";
`format_relative_time` → "just now", "5 minutes ago", "yesterday", "3 days ago" or a short date.
"""

from __future__ import annotations

import datetime as dt

from gitpulse_app.intelligence.windows import ZoneLike, resolve_zone

_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def _local(instant: dt.datetime, zone: ZoneLike) -> dt.datetime:
    return instant.astimezone(resolve_zone(zone))


def format_report_date(instant: dt.datetime, zone: ZoneLike = None) -> str:
    """The local date of `instant` as "December 5, 2025"."""
    local = _local(instant, zone)
    return f"{local:%B} {local.day}, {local.year}"


def format_work_day(end: dt.datetime, zone: ZoneLike = None) -> str:
    """The work day a daily window ending at `end` is about (the local date of its last instant),
    as "December 7, 2026": Monday's window of a Monday–Friday week starts on Saturday."""
    return format_report_date(end - _ONE_MICROSECOND, zone)


def format_short_date(instant: dt.datetime, zone: ZoneLike = None) -> str:
    """The local date of `instant` as "Dec 5"."""
    local = _local(instant, zone)
    return f"{local:%b} {local.day}"


def format_date_range(start: dt.datetime, end: dt.datetime, zone: ZoneLike = None) -> str:
    """A window `[start, end)` as "Dec 1 - Dec 7, 2025" or "Dec 29, 2025 - Jan 4, 2026".

    Args:
        start: The window's first instant.
        end: The window's end (exclusive).
        zone: The user's zone.

    Returns:
        The covered local dates; the start's year only when it differs from the end's.
    """
    first = _local(start, zone)
    last = _local(end - _ONE_MICROSECOND, zone)
    opening = format_short_date(first, zone)
    if first.year != last.year:
        opening += f", {first.year}"
    return f"{opening} - {format_short_date(last, zone)}, {last.year}"


def format_time(instant: dt.datetime, zone: ZoneLike = None) -> str:
    """The local time of `instant` as "9:00 AM" (12-hour clock, no leading zero)."""
    local = _local(instant, zone)
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def format_relative_time(instant: dt.datetime, now: dt.datetime, zone: ZoneLike = None) -> str:
    """How long ago `instant` was, seen at `now`.

    Returns:
        "just now" (under 60 s, and for future instants), "N minute(s) ago", "N hour(s) ago",
        "yesterday" (24–47 h), "N days ago" (under 7 days), else the short local date ("Dec 5").
    """
    seconds = (now - instant).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    hours = minutes // 60
    if hours < 24:
        return _plural(hours, "hour")
    if hours < 48:
        return "yesterday"
    days = hours // 24
    if days < 7:
        return _plural(days, "day")
    return format_short_date(instant, zone)
