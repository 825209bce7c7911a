"""Moved to `gitpulse_app.experience.auth.sessions`; kept so existing imports keep working."""

from gitpulse_app.experience.auth.sessions import (  # noqa: F401 - re-exports
    SLIDE_TO,
    SLIDE_WHEN_LESS_THAN,
    resolve_token,
    session_user_id,
    token_from_cookie_header,
    token_hash,
)
