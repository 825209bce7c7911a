"""Shared builders for the delivery tests: an owner and reports created directly as rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
from sqlmodel import Session

from gitpulse_app.core.models import Report, User

BASE_URL = "https://gitpulse.example.com"
ADDRESS = "alice.owner@example.org"
# Dec 5, 2025 in America/Chicago, and the Monday-start week Dec 1–7.
DAY_START = dt.datetime(2025, 12, 5, 6, tzinfo=dt.UTC)
WEEK_START = dt.datetime(2025, 12, 1, 6, tzinfo=dt.UTC)
T0 = dt.datetime(2025, 12, 6, 6, 0, tzinfo=dt.UTC)

SECTIONS = [
    {
        "title": "Work Completed",
        "bullets": [
            "Merged search ([PR #42](https://github.com/acme/app/pull/42)) (+10/-2)",
            "Fixed the **auth** bug in `login.py` "
            "([abc1234](https://github.com/acme/app/commit/abc1234))",
        ],
        "citations": [
            "https://github.com/acme/app/pull/42",
            "https://github.com/acme/app/commit/abc1234",
        ],
    },
    {"title": "Key Decisions & Context", "bullets": ["No activity recorded"], "citations": []},
    {
        "title": "Momentum & Next Steps",
        "bullets": ["Opened [Issue #7](https://github.com/acme/app/issues/7) – Flaky CI"],
        "citations": [
            "https://github.com/acme/app/issues/7", "https://github.com/acme/app/pull/50",
        ],
    },
]

_day = itertools.count()


def make_owner(session: Session, *, email: str | None = ADDRESS, enabled: bool = True,
               login: str = "alice", tz: str = "America/Chicago") -> User:
    user = User(gh_login=login, email=email,
                email_reports_enabled=enabled, timezone=tz)
    session.add(user)
    session.commit()
    return user


def make_report(session: Session, owner: User, *, kind: str = "daily", origin: str = "scheduled",
                is_partial: bool = False, event_count: int = 3, start: dt.datetime | None = None,
                sections: list | None = None, tz: str = "America/Chicago",
                deleted: bool = False) -> Report:
    if start is None:
        # Each default report gets its own window (the reports UNIQUE key).
        start = DAY_START - dt.timedelta(days=next(_day) + 1) if kind == "daily" else WEEK_START
    end = start + dt.timedelta(days=1 if kind == "daily" else 7)
    sections = SECTIONS if sections is None else sections
    markdown = "\n\n".join(
        f"## {s['title']}\n" + "\n".join(f"- {b}" for b in s["bullets"]) for s in sections
    )
    report = Report(
        user_id=owner.id, kind=kind, schedule_type=kind, origin=origin, start_date=start,
        end_date=end, timezone=tz, scope_logins=[owner.gh_login], title=f"{kind.title()} report",
        description=f"Auto-generated {kind} report", sections=sections, markdown=markdown,
        html="<p>stored</p>", citations=sorted({c for s in sections for c in s["citations"]}),
        prompt_version="py-v1", provider="local", model="local-extractive-v1",
        generated_at=end, cache_key=hashlib.sha256(f"{start}{kind}".encode()).hexdigest(),
        event_count=event_count, is_partial=is_partial,
        deleted_at=end if deleted else None,
    )
    session.add(report)
    session.commit()
    return report


@pytest.fixture
def owner(session: Session) -> User:
    return make_owner(session)


@pytest.fixture
def smtp_env(configure, fake_smtp):
    """SMTP_URL pointing at the fake (with AUTH) and a public base URL."""
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL=BASE_URL)
    return fake_smtp
