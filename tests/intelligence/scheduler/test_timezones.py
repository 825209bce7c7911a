"""Time zones: refused when saved, never coerced; a stored zone that stops resolving
is read as UTC by the scheduler."""

from __future__ import annotations

import sqlalchemy as sa

from gitpulse_app.core.models import User
from gitpulse_app.experience.settings.service import SettingsForm, save_settings
from gitpulse_app.intelligence.scheduler import run_tick
from tests.intelligence.scheduler.conftest import utc


def form(zone: str) -> SettingsForm:
    return SettingsForm(timezone=zone, daily_enabled=True, weekly_enabled=True,
                        email_enabled=False, email="", week_start_day=0)


def test_an_unknown_zone_is_refused_naming_the_value_and_nothing_is_saved(town, session):
    user = town.user("zed", "Europe/London")

    result = save_settings(user.id, form("Mars/Olympus_Mons"), now=utc(2025, 12, 5))

    assert result.errors == {"timezone": 'Unknown time zone "Mars/Olympus_Mons". Choose an '
                                         'IANA zone such as "America/Chicago".'}
    session.expire_all()
    assert session.scalar(sa.select(User.timezone).where(User.id == user.id)) == "Europe/London"


def test_a_zone_is_not_coerced_from_an_abbreviation_or_other_case(town):
    user = town.user("zed", "UTC")

    for value in ("CST", "america/chicago", " America/Chicago"):
        assert "timezone" in save_settings(user.id, form(value)).errors, value


def test_a_stored_zone_that_no_longer_resolves_is_scheduled_as_utc(town, caplog):
    user = town.user("old", "Mars/Base", daily_enabled_at=utc(2025, 12, 5),
                     weekly_reports_enabled=False)

    result = run_tick(utc(2025, 12, 6, 0, 0))

    assert result.daily.reports_generated == 1
    report = town.reports(user, "daily")[0]
    assert (report.start_date, report.end_date, report.timezone) == (
        utc(2025, 12, 5), utc(2025, 12, 6), "UTC")
    assert run_tick(utc(2025, 12, 6, 0, 15)).daily.reports_generated == 0
    assert "no longer resolves" in caplog.text
