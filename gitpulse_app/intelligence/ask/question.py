"""What a question names: a time range, people and repositories (docs/API.md "Ask").

Only names the asker can see are recognised (the caller passes visible repositories and people), so
a question never reveals that an invisible repository exists. Time ranges are local to the asker's
zone: "March 2025", "in March" (the latest March not in the future), "2025-03", "2025-03-14",
"today", "yesterday", "this week", "last week", "this month", "last month".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from gitpulse_app.intelligence.windows import (
    ZoneLike,
    Window,
    current_local_date,
    last_completed_day,
    last_completed_week,
    latest_week_start,
    resolve_zone,
    start_of_local_day,
    today_so_far,
)

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH_WORD = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\s+(\d{4}))?\b", re.I)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_ISO_MONTH = re.compile(r"\b(\d{4})-(\d{2})\b(?!-\d)")
_SELF = re.compile(r"\b(?:I|me|my|mine|myself)\b")
_MIN_BARE_NAME = 3  # shorter bare names ("ui", "db") are too likely to be ordinary words


@dataclass(frozen=True)
class QuestionScope:
    """The filters a question implies.

    Attributes:
        window: The time range named, or None.
        logins: People named (GitHub logins), the asker when they say "I" or "my".
        repos: Repositories named (`owner/name`), among those visible.
    """

    window: Window | None = None
    logins: tuple[str, ...] = ()
    repos: tuple[str, ...] = field(default_factory=tuple)


def _month_window(year: int, month: int, zone: ZoneLike) -> Window | None:
    if not 1 <= month <= 12 or not 1900 <= year <= 9998:
        return None
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return Window(start_of_local_day(first, zone), start_of_local_day(following, zone))


def _named_month(match: re.Match[str], today: dt.date, zone: ZoneLike) -> Window | None:
    abbreviation = match.group(1).lower()[:3]
    month = next(n for n, name in enumerate(_MONTHS, start=1) if name.startswith(abbreviation))
    if match.group(2):
        return _month_window(int(match.group(2)), month, zone)
    # No year: the latest such month that has begun.
    year = today.year if month <= today.month else today.year - 1
    return _month_window(year, month, zone)


def _relative(text: str, now: dt.datetime, zone: ZoneLike, week_start_day: int) -> Window | None:
    lowered = text.lower()
    today = current_local_date(now, zone)
    if "yesterday" in lowered:
        return last_completed_day(now, zone)
    if "today" in lowered:
        return today_so_far(now, zone)
    if "last week" in lowered or "past week" in lowered:
        return last_completed_week(now, zone, week_start_day)
    if "this week" in lowered:
        first = latest_week_start(today, week_start_day)
        return Window(start_of_local_day(first, zone),
                      start_of_local_day(today + dt.timedelta(days=1), zone))
    if "last month" in lowered or "past month" in lowered:
        previous = today.replace(day=1) - dt.timedelta(days=1)
        return _month_window(previous.year, previous.month, zone)
    if "this month" in lowered:
        return _month_window(today.year, today.month, zone)
    return None


def named_window(text: str, now: dt.datetime, zone: ZoneLike,
                 week_start_day: int = 0) -> Window | None:
    """The time range a question names, in the asker's zone; None when it names none."""
    tz = resolve_zone(zone)
    today = current_local_date(now, tz)
    if (match := _ISO_DAY.search(text)) is not None:
        try:
            day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            day = None
        if day is not None:
            return Window(start_of_local_day(day, tz),
                          start_of_local_day(day + dt.timedelta(days=1), tz))
    if (match := _ISO_MONTH.search(text)) is not None:
        window = _month_window(int(match.group(1)), int(match.group(2)), tz)
        if window is not None:
            return window
    relative = _relative(text, now, tz, week_start_day)
    if relative is not None:
        return relative
    for match in _MONTH_WORD.finditer(text):
        # "may" alone is usually the verb; it counts only with a year.
        if match.group(1).lower() == "may" and not match.group(2):
            continue
        window = _named_month(match, today, tz)
        if window is not None:
            return window
    return None


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w/-])", text, re.I) is not None


def named_repos(text: str, visible: Iterable[str]) -> tuple[str, ...]:
    """Visible repositories the text names, by `owner/name` or by a bare name of 3+ characters."""
    names = sorted(set(visible), key=str.lower)
    full = [name for name in names if _mentions(text, name)]
    if full:
        return tuple(full)
    return tuple(name for name in names
                 if len(name.split("/", 1)[-1]) >= _MIN_BARE_NAME
                 and _mentions(text, name.split("/", 1)[-1]))


def named_logins(text: str, known: Iterable[str], own_login: str | None) -> tuple[str, ...]:
    """People the text names (`@login` or the login as a word), and the asker for "I"/"my"."""
    found = [login for login in sorted(set(known), key=str.lower)
             if len(login) >= _MIN_BARE_NAME and _mentions(text, login)]
    if own_login and _SELF.search(text) and own_login not in found:
        found.append(own_login)
    return tuple(found)
