"""Instance operators (README "GITPULSE_ADMINS"): who may use /ops and replay any source's failed
webhook deliveries."""

from __future__ import annotations

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.models import User


def is_operator(user: User) -> bool:
    """Instance operators: `GITPULSE_ADMINS` logins; in demo mode also the demo user unless the
    base URL is https."""
    settings = get_settings()
    if user.gh_login and user.gh_login.lower() in settings.admins:
        return True
    return bool(user.is_demo and settings.demo_enabled and not settings.is_https)
