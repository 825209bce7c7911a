"""What /settings shows: the saved preferences, the GitHub connection and the token sources, plus
the weekdays the form offers (its time zones come from `intelligence.windows.all_time_zones`).

Nothing here knows about Reflex: pages call these functions and keep the display-ready results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import EVERY_DAY, User
from gitpulse_app.experience.sources.views import PatSource, pat_sources
from gitpulse_app.intelligence.windows import is_valid_zone

EMAIL_NOT_CONFIGURED = "Email is not configured on this server"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
@dataclass(frozen=True)
class SettingsView:
    """Everything /settings shows, display-ready."""

    login: str
    connected: bool
    token_expired: bool
    oauth_configured: bool
    timezone: str | None
    zone_unresolvable: bool
    daily_enabled: bool
    weekly_enabled: bool
    email_enabled: bool
    email: str
    week_start_day: int
    email_configured: bool
    is_demo: bool
    work_days: str = EVERY_DAY
    pat_sources: list[PatSource] = field(default_factory=list)


def load_settings(user_id: int, now: dt.datetime | None = None) -> SettingsView | None:
    """The signed-in user's settings; None when the user no longer exists."""
    now = now or utcnow()
    settings = get_settings()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        has_token = decrypt_token(user.oauth_access_token_enc) is not None
        expired = bool(
            user.oauth_access_token_enc and (
                not has_token
                or (user.oauth_token_expires_at is not None
                    and user.oauth_token_expires_at <= now
                    and decrypt_token(user.oauth_refresh_token_enc) is None)
            )
        )
        return SettingsView(
            login=user.gh_login or user.display_name or "",
            connected=user.gh_id is not None or user.is_demo,
            token_expired=expired,
            oauth_configured=settings.oauth_configured,
            timezone=user.timezone,
            zone_unresolvable=bool(user.timezone) and not is_valid_zone(user.timezone or ""),
            daily_enabled=user.daily_reports_enabled,
            weekly_enabled=user.weekly_reports_enabled,
            email_enabled=user.email_reports_enabled,
            email=user.email or "",
            week_start_day=user.week_start_day,
            email_configured=settings.email_enabled,
            is_demo=user.is_demo,
            work_days=user.work_days,
            pat_sources=pat_sources(session, user_id),
        )
