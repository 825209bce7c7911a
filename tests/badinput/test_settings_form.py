"""Property: any /settings submission is saved whole, or refused with field errors and nothing saved.

`save_settings` is what the page calls. With SMTP configured (a fake server on 127.0.0.1), a new
address waits for confirmation: the old one stays until the link is opened.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience.settings.service import (
    CONFIRMATIONS_THROTTLED,
    SettingsForm,
    save_settings,
)
from gitpulse_app.intelligence.windows import all_time_zones

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
PREVIOUS = {"timezone": "Europe/Paris", "week_start_day": 2, "email": "old@example.com",
            "daily_reports_enabled": False, "weekly_reports_enabled": True,
            "email_reports_enabled": True}
FIELDS = {"timezone", "week_start_day", "email"}
# Columns a successful save may change; everything else must stay as it was.
SAVED_COLUMNS = {"timezone", "week_start_day", "daily_reports_enabled", "weekly_reports_enabled",
                 "email_reports_enabled", "email", "daily_enabled_at", "weekly_enabled_at",
                 "updated_at"}

VALID_ZONES = st.sampled_from(all_time_zones())
ODD_ZONES = st.sampled_from([
    "", " ", "UTC", "utc", "America/Chicago ", " America/Chicago", "America", "America/",
    "Etc/GMT+5", "Factory", "posix/Europe/Paris", "../../etc/passwd", "/etc/localtime",
    "Europe/../Europe/Paris", "America/Chicago\x00", "a" * 5000, "Mars/Olympus", "localtime",
])
# Repeating the valid choices keeps a good share of whole forms valid (hypothesis leans simple).
ZONES = st.one_of(VALID_ZONES, VALID_ZONES, ODD_ZONES, st.text(max_size=40))
WEEK_STARTS: st.SearchStrategy[Any] = st.one_of(
    st.integers(0, 6), st.integers(0, 6), st.integers(-3, 10), st.integers(), st.booleans(),
    st.none(), st.floats(allow_nan=True), st.text(max_size=3))
EMAILS = st.one_of(st.sampled_from(["", "old@example.com", "OLD@EXAMPLE.COM ", "new@example.com"]),
                   st.emails(), st.sampled_from([
                       "   ", "a@b", "a@b.c", "no-at-sign", "a@@b.c",
                       "a@b.c\nBcc: victim@example.com", "x@y.z\r", "ünï@cödé.org", "a\x00@b.c",
                       "a" * 300 + "@example.com", "<script>@x.io", "a@b.c,d@e.f"]),
                   st.text(max_size=40))
FORMS = st.builds(SettingsForm, timezone=ZONES, daily_enabled=st.booleans(),
                  weekly_enabled=st.booleans(), email_enabled=st.booleans(), email=EMAILS,
                  week_start_day=WEEK_STARTS)


def user_row(user_id: int) -> dict[str, Any]:
    with session_scope() as session:
        row = session.execute(sa.select(User.__table__).where(User.__table__.c.id == user_id))
        return dict(row.mappings().one())


def test_any_settings_form_is_saved_whole_or_refused_with_nothing_saved(
    engine, configure, fake_smtp, record_counts
):
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL="http://localhost:3000")
    with session_scope() as session:
        user = User(gh_id=77, gh_login="settler", **PREVIOUS)
        session.add(user)
        session.flush()
        user_id = user.id
    outcomes: Counter[str] = Counter()
    throttled = [0]

    @settings(max_examples=800, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(FORMS)
    def property_holds(form: SettingsForm) -> None:
        before = user_row(user_id)
        result = save_settings(user_id, form, NOW)
        after = user_row(user_id)
        if result.errors:
            outcomes["refused"] += 1
            assert set(result.errors) <= FIELDS, result.errors
            assert all(isinstance(m, str) and m.endswith(".") for m in result.errors.values())
            assert after == before, "a refused form changed the stored settings"
            return
        outcomes["saved"] += 1
        assert {k for k in after if after[k] != before[k]} <= SAVED_COLUMNS
        assert (after["timezone"], after["week_start_day"]) == (form.timezone,
                                                                form.week_start_day)
        assert (after["daily_reports_enabled"], after["weekly_reports_enabled"],
                after["email_reports_enabled"]) == (form.daily_enabled, form.weekly_enabled,
                                                    form.email_enabled)
        address = form.email.strip()
        if not address:
            assert after["email"] is None
        elif address.lower() == (before["email"] or "").strip().lower():
            assert after["email"] == before["email"] and result.confirm_email_to is None
        else:  # a new address is only stored once confirmed
            assert after["email"] == before["email"]
            assert (result.confirm_email_to == address or "Could not send" in result.notice
                    or result.notice == CONFIRMATIONS_THROTTLED)  # 3 mails an hour at most
            throttled[0] += result.notice == CONFIRMATIONS_THROTTLED

    property_holds()
    record_counts(inputs_tried=sum(outcomes.values()), saved=outcomes["saved"],
                  refused=outcomes["refused"], half_saved=0,
                  confirmations_sent=len(fake_smtp.messages),
                  confirmations_throttled=throttled[0])
