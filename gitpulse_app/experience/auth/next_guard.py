"""The open-redirect guard on `next`: only in-app relative paths survive."""

from __future__ import annotations

from gitpulse_app.experience import routes


def safe_next(value: str | None, default: str = routes.DASHBOARD) -> str:
    """`value` when it is a relative in-app path, else `default`.

    Accepted: a path starting with exactly one `/`, without backslashes, control characters or a
    scheme. `//evil.com`, `/\\evil.com`, `https://evil.com` and `javascript:…` are all refused.

    Args:
        value: The requested target, e.g. a `next` query parameter.
        default: Where to go instead (the dashboard).

    Returns:
        A path safe to append to `GITPULSE_BASE_URL`.
    """
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        return default
    return value
